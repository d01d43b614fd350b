using Spillway.Framing;
using static Spillway.Sources.Tests.FramerHarness;

namespace Spillway.Sources.Tests;

public sealed class FramerTests
{
    private static Result Msg(string payload, long declared = -1) => new(FrameKind.Message, payload, declared);

    private static Result Over(string payload, long declared = -1) => new(FrameKind.Oversize, payload, declared);

    private static Result Cut(string payload, long declared = -1) => new(FrameKind.Truncated, payload, declared);

    public static TheoryData<string, int, Result[]> Streams => new()
    {
        { "hello\nworld\r\n\n", 64, [Msg("hello"), Msg("world"), Msg("")] },
        { "12 <13>octet ok5 <abcline\n", 64, [Msg("<13>octet ok", 12), Msg("<abcl", 5), Msg("ine")] },
        { "lf first\n6 <1>abafter\n3 <x>", 64, [Msg("lf first"), Msg("<1>aba", 6), Msg("fter"), Msg("<x>", 3)] },
        { "123 abc\n0 <x\n12x\n 5 <abcde\n", 64, [Msg("123 abc"), Msg("0 <x"), Msg("12x"), Msg(" 5 <abcde")] },
        { "0123456789abc\nok\n", 8, [Over("01234567"), Msg("ok")] },
        { "20 <aaaaaaaaaaaaaaaaaaaok\n", 8, [Over("<aaaaaaa", 20), Msg("ok")] },
        { "abcde\r\nabcdef\r\nabcdefgh\n", 5, [Msg("abcde"), Over("abcde"), Over("abcde")] },
        { "tail without lf", 64, [Cut("tail without lf")] },
        { "ok\n10 <abc", 64, [Msg("ok"), Cut("<abc", 10)] },
        { "ok\n12", 64, [Msg("ok"), Cut("12")] },
        { "a long line cut\nafter\n", 4, [Over("a lo"), Over("afte")] },
        { "9 <toolong and more\n", 4, [Over("<too", 9), Over("and ")] },
        { "", 64, [] },
        { "<14>one\0<14>two\0", 64, [Msg("<14>one"), Msg("<14>two")] },
        { "a\r\0b\nc\0", 64, [Msg("a"), Msg("b"), Msg("c")] },
        { "0123456789\0ok\0", 4, [Over("0123"), Msg("ok")] },
        { "\r\n", 64, [Msg("")] },
        { "bad \xff\xfe bytes\n", 64, [Msg("bad \xff\xfe bytes")] },
        { "999999999999 <x\n", 64, [Msg("999999999999 <x")] },
    };

    [Theory]
    [MemberData(nameof(Streams))]
    public void A_stream_read_in_one_piece_yields_the_expected_frames(string stream, int max, Result[] expected) =>
        Assert.Equal(expected, Run(stream, [], max));

    [Theory]
    [MemberData(nameof(Streams))]
    public void Every_split_into_two_or_three_reads_yields_the_same_frames(string stream, int max, Result[] expected)
    {
        _ = expected;
        var whole = Run(stream, [], max);
        for (var i = 0; i <= stream.Length; i++)
        {
            for (var j = i; j <= stream.Length; j++)
            {
                Assert.Equal(whole, Run(stream, [i, j], max));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void Every_partition_of_a_short_stream_yields_the_same_frames(string stream, int max, Result[] expected)
    {
        _ = expected;
        var whole = Run(stream, [], max);
        var prefix = stream[..Math.Min(stream.Length, 14)]; // 2^13 partitions: exhaustive, and fast
        var prefixWhole = Run(prefix, [], max);
        for (var mask = 0; mask < 1 << Math.Max(0, prefix.Length - 1); mask++)
        {
            var cuts = Enumerable.Range(1, Math.Max(0, prefix.Length - 1)).Where(c => (mask & (1 << (c - 1))) != 0);
            Assert.Equal(prefixWhole, Run(prefix, cuts, max));
        }

        Assert.Equal(whole, Run(stream, Enumerable.Range(1, stream.Length), max)); // one byte at a time
    }

    [Fact]
    public void Random_streams_of_mixed_framing_come_out_the_same_however_they_are_read()
    {
        var random = new Random(20261125);
        for (var iteration = 0; iteration < 300; iteration++)
        {
            var (stream, expected) = RandomStream(random, frames: 30, max: 40);
            var cuts = Enumerable.Range(0, random.Next(1, 40)).Select(_ => random.Next(stream.Length + 1)).ToList();
            Assert.Equal(expected, Run(stream, cuts, 40).Select(r => r.Payload));
        }
    }

    [Fact]
    public void An_oversize_line_arriving_in_small_reads_is_cut_once_and_the_stream_resyncs()
    {
        var stream = new string('x', 100_000) + "\nnext\n";
        var cuts = Enumerable.Range(1, 100_000 / 7).Select(i => i * 7);
        var frames = Run(stream, cuts, 1024);
        Assert.Equal([Over(new string('x', 1024)), Msg("next")], frames);
    }

    /// <summary>Whole frames of random content, each framed LF or octet-counted at random, all within the limit.</summary>
    private static (byte[] Stream, List<string> Payloads) RandomStream(Random random, int frames, int max)
    {
        var stream = new List<byte>();
        var payloads = new List<string>();
        for (var i = 0; i < frames; i++)
        {
            var octet = random.Next(2) == 0;
            var length = random.Next(1, max + 1);
            var payload = new char[length];
            for (var j = 0; j < length; j++)
            {
                // Octet-counted payloads may hold anything, LF included; lines hold anything but LF and a final CR.
                payload[j] = octet ? (char)random.Next(256) : "abc 0123<>\r\t"[random.Next(12)];
            }

            if (octet)
            {
                payload[0] = '<';
            }
            else if (payload[^1] == '\r')
            {
                payload[^1] = 'z';
            }

            if (!octet)
            {
                payload[0] = 'x'; // neither blank nor a look-alike of an octet-count header such as "1 <"
            }

            var text = new string(payload);

            stream.AddRange(Latin1(octet ? $"{text.Length} {text}" : text + "\n"));
            payloads.Add(text);
        }

        return ([.. stream], payloads);
    }
}
