using Microsoft.AspNetCore.Builder;

namespace Spillway.Http;

/// <summary>
/// An endpoint served on the HTTP listener beside <c>POST /ingest</c>, such as <c>/metrics</c> or <c>/health</c>:
/// one port for the operator's probes and scrapers as for the senders.
/// </summary>
public interface IHttpEndpoint
{
    /// <summary>Maps the endpoint (and any middleware it needs) on the listener's application.</summary>
    void Map(WebApplication app);
}
