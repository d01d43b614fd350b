using System.Text;
using Spillway.Messages;

namespace Spillway.Core.Tests;

/// <summary>The checksum of spill log records and JetStream batches, against the known answers of RFC 3720 (iSCSI), appendix B.4, and the usual check value.</summary>
public sealed class Crc32CTests
{
    public static TheoryData<string, uint> KnownAnswers => new()
    {
        { "32 bytes of zeroes", 0x8A9136AA },
        { "32 bytes of ones", 0x62A8AB43 },
        { "32 bytes incrementing", 0x46DD794E },
        { "32 bytes decrementing", 0x113FDB5C },
        { "an iSCSI read command PDU", 0xD9963A56 },
        { "\"123456789\"", 0xE3069283 },
        { "nothing", 0x00000000 },
    };

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void The_checksum_is_the_known_answer(string input, uint expected) =>
        Assert.Equal(expected, Crc32C.Compute(Bytes(input)));

    [Theory]
    [MemberData(nameof(KnownAnswers))]
    public void The_checksum_of_a_whole_is_that_of_its_parts_appended(string input, uint expected)
    {
        var data = Bytes(input);
        for (var split = 0; split <= data.Length; split++)
        {
            var crc = Crc32C.Append(uint.MaxValue, data.AsSpan(0, split));
            Assert.Equal(expected, ~Crc32C.Append(crc, data.AsSpan(split)));
        }
    }

    private static byte[] Bytes(string input) => input switch
    {
        "32 bytes of zeroes" => new byte[32],
        "32 bytes of ones" => Enumerable.Repeat((byte)0xFF, 32).ToArray(),
        "32 bytes incrementing" => Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(),
        "32 bytes decrementing" => Enumerable.Range(0, 32).Select(i => (byte)(31 - i)).ToArray(),
        "an iSCSI read command PDU" => Convert.FromHexString(
            "01C00000000000000000000000000000" + "14000000000004000000001400000018" + "28000000000000000200000000000000"),
        "\"123456789\"" => Encoding.ASCII.GetBytes("123456789"),
        _ => [],
    };
}
