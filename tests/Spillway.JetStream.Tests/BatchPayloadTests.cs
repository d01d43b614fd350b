using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Testing;

namespace Spillway.JetStream.Tests;

public sealed class BatchPayloadTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 7, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_batch_that_fits_is_one_message_under_its_batch_id_and_reads_back_field_for_field()
    {
        var batch = Sample(Random.Shared.Next(), 50);

        var parts = BatchPayload.Encode(batch, 1 << 20);

        var (messageId, payload) = Assert.Single(parts);
        Assert.Equal(batch.Id.ToString("N"), messageId);
        var (id, part, count, items) = BatchPayload.Decode(payload);
        Assert.Equal((batch.Id, 0, 1), (id, part, count));
        Assert.Equal(batch.Id, BatchPayload.StoredId(id, part, count));
        AssertSameItems(batch, items);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void A_large_batch_is_cut_between_items_into_parts_within_the_limit_each_under_an_id_of_its_own(int seed)
    {
        var batch = Sample(seed, 2_000);
        const int limit = 16 * 1024;

        var parts = BatchPayload.Encode(batch, limit);

        Assert.True(parts.Count > 5, $"{parts.Count} parts");
        Assert.All(parts, p => Assert.InRange(p.Payload.Length, 1, limit - BatchPayload.Overhead));
        Assert.Equal(parts.Count, parts.Select(p => p.MessageId).Distinct().Count());
        var decoded = parts.Select(p => BatchPayload.Decode(p.Payload)).ToList();
        Assert.Equal(Enumerable.Range(0, parts.Count), decoded.Select(d => d.Part));
        Assert.All(decoded, d => Assert.Equal((batch.Id, parts.Count), (d.Batch, d.Parts)));
        Assert.Equal(parts.Count, decoded.Select(d => BatchPayload.StoredId(d.Batch, d.Part, d.Parts)).Distinct().Count());
        AssertSameItems(batch, decoded.SelectMany(d => d.Items).ToList());

        // The same batch cut again (a republish after a crash) gives the same ids and bytes: the stream drops them as duplicates.
        Assert.Equal(parts.Select(p => (p.MessageId, Convert.ToHexString(p.Payload))),
            BatchPayload.Encode(batch, limit).Select(p => (p.MessageId, Convert.ToHexString(p.Payload))));
    }

    [Fact]
    public void An_item_that_no_message_can_hold_is_refused_with_the_reason()
    {
        var batch = TestItems.BatchOf(TestItems.Message(new string('x', 8_000)));
        batch.Id = Guid.CreateVersion7();

        var ex = Assert.Throws<ArgumentException>(() => BatchPayload.Encode(batch, BatchPayload.MinMessageBytes));
        Assert.Contains("--max-message-bytes", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(40)]
    [InlineData(-1)]
    public void A_flipped_byte_anywhere_is_found_before_the_batch_is_believed(int at)
    {
        var payload = BatchPayload.Encode(Sample(at + 100, 20), 1 << 20)[0].Payload;
        var position = at < 0 ? payload.Length - 1 : at;
        payload[position] ^= 0x40;

        Assert.Throws<InvalidDataException>(() => BatchPayload.Decode(payload));
    }

    [Fact]
    public void Bytes_that_are_not_a_batch_are_refused_not_misread()
    {
        Assert.Throws<InvalidDataException>(() => BatchPayload.Decode("hello, stream"u8));
        Assert.Throws<InvalidDataException>(() => BatchPayload.Decode([]));
    }

    private static Batch Sample(int seed, int count)
    {
        var random = new Random(seed);
        var batch = new Batch { Id = Guid.CreateVersion7() };
        for (var i = 0; i < count; i++)
        {
            var text = $"message {i} " + new string((char)('a' + random.Next(26)), random.Next(0, 200)) + " ✓";
            if (random.Next(10) == 0)
            {
                batch.Add(new Reject(At.AddTicks(i), Transport.Udp, "10.0.0.1:514", RejectReason.InvalidUtf8, [0xff, (byte)i], "not UTF-8")
                {
                    Client = random.Next(2) == 0 ? null : "billing",
                });
                continue;
            }

            batch.Add(new Message(At.AddTicks(i), (Transport)random.Next(5), $"10.0.0.{random.Next(255)}:{random.Next(65536)}", text, text.Length)
            {
                Facility = random.Next(3) == 0 ? null : random.Next(24),
                Severity = random.Next(8),
                Timestamp = random.Next(2) == 0 ? null : At.ToOffset(TimeSpan.FromHours(random.Next(-12, 13))),
                Hostname = random.Next(2) == 0 ? null : "host" + i,
                AppName = "app",
                ProcId = random.Next(2) == 0 ? null : i.ToString(System.Globalization.CultureInfo.InvariantCulture),
                StructuredData = random.Next(4) == 0 ? "[x@1 a=\"b\"]" : null,
                Client = random.Next(3) == 0 ? "CN=relay" : null,
            });
        }

        return batch;
    }

    private static void AssertSameItems(Batch batch, List<IngestItem> items)
    {
        Assert.Equal(batch.Count, items.Count);
        Assert.Equal(batch.Messages.Select(Describe), items.OfType<Message>().Select(Describe));
        Assert.Equal(batch.Rejects.Select(Describe), items.OfType<Reject>().Select(Describe));
    }

    private static string Describe(IngestItem item) => item switch
    {
        Message m => $"{m.ReceivedAt:O}|{m.Transport}|{m.Peer}|{m.Size}|{m.Facility}|{m.Severity}|{m.Timestamp:O}|{m.Hostname}|{m.AppName}|" +
            $"{m.ProcId}|{m.MsgId}|{m.StructuredData}|{m.Client}|{m.Text}",
        Reject r => $"{r.ReceivedAt:O}|{r.Transport}|{r.Peer}|{r.Reason}|{r.Detail}|{r.Client}|{Convert.ToHexString(r.Raw)}",
        _ => throw new ArgumentException("unknown item"),
    };
}
