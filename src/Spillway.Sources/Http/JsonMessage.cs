using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Spillway.Http;

/// <summary>A message posted as JSON: <c>message</c> is required, the syslog fields are optional.</summary>
internal sealed record JsonMessage(
    [property: JsonPropertyName("message")] string? Message,
    [property: JsonPropertyName("facility")] int? Facility,
    [property: JsonPropertyName("severity")] int? Severity,
    [property: JsonPropertyName("timestamp")] DateTimeOffset? Timestamp,
    [property: JsonPropertyName("hostname")] string? Hostname,
    [property: JsonPropertyName("app_name")] string? AppName,
    [property: JsonPropertyName("proc_id")] string? ProcId,
    [property: JsonPropertyName("msg_id")] string? MsgId,
    [property: JsonPropertyName("structured_data")] string? StructuredData);

/// <summary>The answer to a stored request.</summary>
internal sealed record IngestResponse(
    [property: JsonPropertyName("accepted")] int Accepted,
    [property: JsonPropertyName("rejected")] int Rejected);

/// <summary>The answer to a request that was not taken.</summary>
internal sealed record ErrorResponse([property: JsonPropertyName("error")] string Error);

/// <summary>Source-generated serialisation: no reflection on the hot path.</summary>
[JsonSourceGenerationOptions(UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip)]
[JsonSerializable(typeof(JsonMessage))]
[JsonSerializable(typeof(JsonMessage[]))]
[JsonSerializable(typeof(IngestResponse))]
[JsonSerializable(typeof(ErrorResponse))]
internal sealed partial class HttpJsonContext : JsonSerializerContext
{
    /// <summary>As <see cref="JsonSerializerContext"/>'s default, but writing quotes and apostrophes as they are, for readable errors.</summary>
    public static HttpJsonContext Web { get; } = new(new JsonSerializerOptions
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
    });
}
