using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Spillway;

/// <summary>The <c>HOST:PORT</c> a listener binds to, and a sender sends to, as an operator writes it.</summary>
public static class ListenEndpoint
{
    /// <summary>
    /// <c>HOST:PORT</c> where HOST is an IPv4 address, a bracketed IPv6 address, <c>localhost</c>, or <c>*</c> for every
    /// IPv4 interface. The port is required; 0 lets the system choose a free one.
    /// </summary>
    public static bool TryParse(string text, out IPEndPoint endpoint)
    {
        endpoint = null!;
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !ushort.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return false;
        }

        var host = text[..colon];
        IPAddress? address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" => IPAddress.Any,
            ['[', .. var v6, ']'] => IPAddress.TryParse(v6, out var a) && a.AddressFamily == AddressFamily.InterNetworkV6 ? a : null,
            _ => IPAddress.TryParse(host, out var a) && a.AddressFamily == AddressFamily.InterNetwork ? a : null,
        };
        if (address is null)
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }
}
