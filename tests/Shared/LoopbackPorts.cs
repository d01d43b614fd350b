using System.Net;
using System.Net.Sockets;

namespace Spillway.Testing;

/// <summary>Ports on the loopback interface, as the tests need them: a free one, and whether one accepts connections yet.</summary>
internal static class LoopbackPorts
{
    /// <summary>A port the system gave out a moment ago and nothing listens on now.</summary>
    public static int Free()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Whether a TCP connection to <paramref name="port"/> is accepted now.</summary>
    public static bool Accepts(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
