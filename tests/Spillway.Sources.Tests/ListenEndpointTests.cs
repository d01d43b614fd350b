using System.Net;

namespace Spillway.Sources.Tests;

public sealed class ListenEndpointTests
{
    [Theory]
    [InlineData("127.0.0.1:5514", "127.0.0.1:5514")]
    [InlineData("localhost:0", "127.0.0.1:0")]
    [InlineData("*:514", "0.0.0.0:514")]
    [InlineData("[::1]:5514", "[::1]:5514")]
    public void Endpoints(string text, string expected)
    {
        Assert.True(ListenEndpoint.TryParse(text, out var endpoint));
        Assert.Equal(IPEndPoint.Parse(expected), endpoint);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:65536")]
    [InlineData("::1:5514")]
    [InlineData("[127.0.0.1]:5514")]
    [InlineData(":5514")]
    [InlineData("host.example:5514")]
    public void Bad_endpoints(string text) => Assert.False(ListenEndpoint.TryParse(text, out _));
}
