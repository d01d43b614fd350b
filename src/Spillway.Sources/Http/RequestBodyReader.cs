using System.Buffers;
using System.Text;
using System.Text.Json;
using Spillway.Diagnostics;
using Spillway.Framing;
using Spillway.Messages;

namespace Spillway.Http;

/// <summary>
/// Turns a request body into items (of <see cref="Transport.Http"/> or <see cref="Transport.Https"/>, as it came). Text bodies go through the same framer and decoder as TCP (one message per
/// line, octet counting accepted, syslog parsed, bad lines kept as rejects); JSON bodies are objects with a
/// <c>message</c> and optional syslog fields, and a body that is not such JSON is refused whole.
/// </summary>
internal sealed class RequestBodyReader(FrameDecoder decoder, BadInputLog badInput, TimeProvider time, int maxMessageBytes)
{
    public List<IngestItem> ReadText(ReadOnlySequence<byte> body, Transport transport, string peer)
    {
        var items = new List<IngestItem>();
        var framer = new Framer(maxMessageBytes);
        while (framer.TryRead(ref body, isFinal: true, out var frame))
        {
            // A body's last line needs no LF: what the framer calls a truncated line is a whole one here. A
            // truncated octet-counted frame is still truncated.
            var item = frame is { Kind: FrameKind.Truncated, IsOctetCounted: false }
                ? decoder.Decode(frame.Payload.IsSingleSegment ? frame.Payload.FirstSpan : frame.Payload.ToArray(), transport, peer, maxMessageBytes)
                : decoder.Decode(frame, transport, peer, maxMessageBytes);
            if (item is not null)
            {
                items.Add(item);
            }
        }

        return items;
    }

    public List<IngestItem> ReadNdjson(ReadOnlySequence<byte> body, Transport transport, string peer)
    {
        var items = new List<IngestItem>();
        var reader = new SequenceReader<byte>(body);
        var line = 0;
        while (!reader.End)
        {
            line++;
            if (!reader.TryReadTo(out ReadOnlySequence<byte> text, (byte)'\n'))
            {
                text = reader.UnreadSequence;
                reader.AdvanceToEnd();
            }

            if (IsBlank(text))
            {
                continue;
            }

            items.Add(ToItem(Deserialize(text, HttpJsonContext.Web.JsonMessage, $"line {line}"), $"line {line}", transport, peer));
        }

        return items;
    }

    public List<IngestItem> ReadJson(ReadOnlySequence<byte> body, Transport transport, string peer)
    {
        var first = FirstNonBlank(body);
        if (first == (byte)'[')
        {
            var array = Deserialize(body, HttpJsonContext.Web.JsonMessageArray, "the body") ?? [];
            return [.. array.Select((m, i) => ToItem(m, $"element {i}", transport, peer))];
        }

        return [ToItem(Deserialize(body, HttpJsonContext.Web.JsonMessage, "the body"), "the body", transport, peer)];
    }

    /// <summary>
    /// Reads exactly one JSON value: anything after it but white space (a second object, a stray byte) refuses the
    /// whole body, since taking the first value alone would drop the rest while answering that it was accepted.
    /// </summary>
    private static T? Deserialize<T>(ReadOnlySequence<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string where)
    {
        var reader = new Utf8JsonReader(json);
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(ref reader, type);
        }
        catch (JsonException ex)
        {
            throw new BadRequestException($"{where} is not a JSON message object: {ex.Message}");
        }

        // The reader takes one value only: a token after it (white space aside) throws rather than reads.
        var end = reader.BytesConsumed;
        try
        {
            if (reader.Read())
            {
                throw new JsonException();
            }
        }
        catch (JsonException)
        {
            throw new BadRequestException($"{where} holds more than one JSON value, or bytes after it (its value ends at byte {end}): " +
                "send one value, an array for several messages, or application/x-ndjson with one object a line; nothing was taken");
        }

        return value;
    }

    private IngestItem ToItem(JsonMessage? json, string where, Transport transport, string peer)
    {
        if (json is null)
        {
            throw new BadRequestException($"{where} is null, not a JSON message object");
        }

        if (json.Message is null)
        {
            throw new BadRequestException($"{where} has no \"message\" string");
        }

        if (json.Facility is < 0 or > 23 || json.Severity is < 0 or > 7)
        {
            throw new BadRequestException($"{where}: facility must be 0 to 23 and severity 0 to 7");
        }

        var receivedAt = time.GetUtcNow();
        var size = Encoding.UTF8.GetByteCount(json.Message);
        if (size > maxMessageBytes)
        {
            var raw = Encoding.UTF8.GetBytes(json.Message)[..maxMessageBytes];
            var detail = $"a message of {size} bytes is longer than the limit of {maxMessageBytes} bytes; its first {maxMessageBytes} bytes are kept";
            badInput.Report(RejectReason.Oversize, transport, peer, detail);
            return new Reject(receivedAt, transport, peer, RejectReason.Oversize, raw, detail);
        }

        return new Message(receivedAt, transport, peer, json.Message, size)
        {
            Facility = json.Facility,
            Severity = json.Severity,
            Timestamp = json.Timestamp,
            Hostname = json.Hostname,
            AppName = json.AppName,
            ProcId = json.ProcId,
            MsgId = json.MsgId,
            StructuredData = json.StructuredData,
        };
    }

    private static bool IsBlank(ReadOnlySequence<byte> text)
    {
        foreach (var segment in text)
        {
            if (segment.Span.IndexOfAnyExcept(" \t\r"u8) >= 0)
            {
                return false;
            }
        }

        return true;
    }

    private static byte FirstNonBlank(ReadOnlySequence<byte> body)
    {
        foreach (var segment in body)
        {
            var at = segment.Span.IndexOfAnyExcept(" \t\r\n"u8);
            if (at >= 0)
            {
                return segment.Span[at];
            }
        }

        return 0;
    }
}
