using Spillway.Messages;

namespace Spillway.Spill.Tests;

public sealed class RecordCodecTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    public static TheoryData<string> Kinds => ["message", "reject"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void The_client_round_trips_and_a_record_without_one_is_the_record_of_before_it(string kind)
    {
        var plain = Payload(Item(kind, client: null));
        var keyed = Payload(Item(kind, client: "CN=relay1.example.com,O=Example ✓"));

        Assert.Null(RecordCodec.Decode(plain).Client);
        Assert.Equal("CN=relay1.example.com,O=Example ✓", RecordCodec.Decode(keyed).Client);
        Assert.Equal(kind == "message" ? "syslog line" : null, (RecordCodec.Decode(keyed) as Message)?.Text);

        // The client is appended, so a spill log written before clients (every record "plain") reads back unchanged,
        // and nothing else about a record moved to make room for it.
        Assert.True(keyed.AsSpan().StartsWith(plain), "the client changed the fields before it");
    }

    [Fact]
    public void A_client_written_as_null_is_damage_not_a_record()
    {
        var plain = Payload(Item("message", client: null));
        byte[] nullString = [0xff, 0xff, 0xff, 0xff]; // the length of a null string, where a client must have text

        var error = Assert.Throws<InvalidDataException>(() => RecordCodec.Decode([.. plain, .. nullString]));
        Assert.Contains("client", error.Message, StringComparison.Ordinal);
    }

    private static IngestItem Item(string kind, string? client)
    {
        IngestItem item = kind == "message"
            ? new Message(At, Transport.Tls, "10.0.0.7:50514", "syslog line", 11) { Hostname = "relay1", Severity = 6 }
            : new Reject(At, Transport.Https, "10.0.0.7:50514", RejectReason.InvalidUtf8, [0xff, 0x00], "not UTF-8");
        item.Client = client;
        return item;
    }

    private static byte[] Payload(IngestItem item)
    {
        var scratch = new byte[16];
        var length = RecordCodec.Encode(item, ref scratch);
        return scratch[RecordCodec.HeaderLength..length];
    }
}
