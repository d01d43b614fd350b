using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;
using Spillway.Sinks;
using Spillway.Testing;

namespace Spillway.JetStream.Tests;

/// <summary>An edge's sink and a writer's buffer against the real three-node cluster, each test on a stream of its own.</summary>
public sealed class JetStreamRoundTripTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly TestMeterFactory _meters = new();
    private readonly string _stream = NatsCluster.StreamName("roundtrip");

    [Fact]
    public async Task A_published_batch_is_taken_whole_under_its_id_and_acknowledged_only_at_commit()
    {
        var (sink, buffer, metrics) = await EdgeAndWriterAsync();
        var batch = Batch(300, seed: 1);

        await sink.WriteAsync(batch, TestContext.Current.CancellationToken);

        var taken = new Batch();
        Assert.True(await TakeAsync(buffer, taken));
        Assert.Equal(batch.Id, taken.Id);
        Assert.Equal(batch.Messages.Select(m => m.Text), taken.Messages.Select(m => m.Text));
        Assert.Equal(300, buffer.Messages);
        Assert.Equal(1, (await StateAsync(metrics)).AckPending);

        buffer.Commit(taken);

        Assert.Equal(0, buffer.Messages);
        await Eventually.ValueAsync(() => StateAsync(metrics), s => s is { StreamMessages: 0, AckPending: 0 }, "the stream to drop the acknowledged batch");
    }

    [Fact]
    public async Task A_batch_published_again_under_its_id_is_dropped_by_the_stream_as_a_duplicate()
    {
        var (sink, buffer, metrics) = await EdgeAndWriterAsync();
        var batch = Batch(10, seed: 2);

        await sink.WriteAsync(batch, TestContext.Current.CancellationToken);
        await sink.WriteAsync(batch, TestContext.Current.CancellationToken);

        Assert.Equal(2, metrics.Published);
        Assert.Equal(1, (await StateAsync(metrics)).StreamMessages);
        var taken = new Batch();
        Assert.True(await TakeAsync(buffer, taken));
        buffer.Commit(taken);
        buffer.Complete();
        Assert.False(await TakeAsync(buffer, new Batch()));
    }

    [Fact]
    public async Task A_batch_larger_than_a_message_goes_in_parts_each_taken_once_under_an_id_of_its_own()
    {
        var (sink, buffer, metrics) = await EdgeAndWriterAsync(maxMessageBytes: 8 * 1024);
        var batch = Batch(2_000, seed: 3);

        await sink.WriteAsync(batch, TestContext.Current.CancellationToken);

        var parts = (int)metrics.Published;
        Assert.True(parts > 10, $"{parts} parts");
        var ids = new HashSet<Guid>();
        var texts = new List<string>();
        for (var i = 0; i < parts; i++)
        {
            var taken = new Batch();
            Assert.True(await TakeAsync(buffer, taken));
            Assert.True(ids.Add(taken.Id));
            texts.AddRange(taken.Messages.Select(m => m.Text));
            buffer.Commit(taken);
        }

        Assert.Equal(batch.Messages.Select(m => m.Text).Order(), texts.Order());
        await Eventually.ValueAsync(() => StateAsync(metrics), s => s.StreamMessages == 0, "every part acknowledged");
    }

    [Fact]
    public async Task A_full_stream_refuses_the_publish_as_full_and_takes_it_once_there_is_room()
    {
        var (sink, buffer, metrics) = await EdgeAndWriterAsync(maxBytes: 1L << 20);
        var published = 0;
        Exception? refused = null;
        while (refused is null && published < 100)
        {
            try
            {
                await sink.WriteAsync(Batch(1_000, seed: 10 + published), TestContext.Current.CancellationToken);
                published++;
            }
            catch (NatsJSApiException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.Equal("full", JetStreamSink.Reason(refused));
        Assert.Equal(1, metrics.PublishFailures);

        // A writer takes one: the stream has room again, and the same publish goes through.
        var taken = new Batch();
        Assert.True(await TakeAsync(buffer, taken));
        buffer.Commit(taken);
        await Eventually.ValueAsync(() => StateAsync(metrics), s => s.StreamMessages == published - 1, "the taken batch to leave the stream");
        await sink.WriteAsync(Batch(1_000, seed: 10 + published), TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task A_message_that_is_not_a_batch_is_taken_as_an_undecodable_reject_with_its_bytes()
    {
        var (_, buffer, _) = await EdgeAndWriterAsync();
        await using var connection = new NatsConnection(new NatsOpts { Url = NatsCluster.Url() });
        var ack = await new NatsJSContext(connection).PublishAsync("spillway." + _stream, "not a batch"u8.ToArray(),
            cancellationToken: TestContext.Current.CancellationToken);
        ack.EnsureSuccess();

        var taken = new Batch();
        Assert.True(await TakeAsync(buffer, taken));

        var reject = Assert.Single(taken.Rejects);
        Assert.Empty(taken.Messages);
        Assert.Equal(RejectReason.Undecodable, reject.Reason);
        Assert.Equal("not a batch"u8.ToArray(), reject.Raw);
        Assert.Equal($"{_stream}#{ack.Seq}", reject.Peer);
        Assert.NotEqual(Guid.Empty, taken.Id);
        buffer.Commit(taken);
    }

    [Fact]
    public async Task Servers_that_cannot_be_reached_fail_the_start_with_the_address()
    {
        var url = NatsCluster.UnreachableUrl();
        await using var client = new JetStreamClient(new JetStreamOptions { Servers = [url], Stream = _stream }, NullLoggerFactory.Instance);

        var ex = await Assert.ThrowsAsync<SinkUnavailableException>(() => client.OpenAsync(TestContext.Current.CancellationToken).AsTask());

        Assert.Contains(url, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_made_with_other_settings_is_used_as_it_is_and_each_difference_logged()
    {
        var options = new JetStreamOptions
        {
            Servers = NatsCluster.Url().Split(','), Stream = _stream, Subject = "spillway." + _stream, Replicas = 1, MaxBytes = 8L << 20,
        };
        await using (var first = new JetStreamClient(options, NullLoggerFactory.Instance))
        {
            await first.OpenAsync(TestContext.Current.CancellationToken);
        }

        using var logs = new FakeLoggerProvider();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(logs));
        await using var second = new JetStreamClient(options with { Replicas = 3, MaxBytes = 64L << 20 }, loggers);
        await second.OpenAsync(TestContext.Current.CancellationToken);

        var differs = Assert.Single(logs.Collector.GetSnapshot(), r => r.Id.Id == Spillway.Diagnostics.EventIds.JetStreamDiffers);
        Assert.Contains("replicas 1 (not 3)", differs.Message, StringComparison.Ordinal);
        Assert.Contains($"max_bytes {8L << 20} (not {64L << 20})", differs.Message, StringComparison.Ordinal);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, differs.Level);
    }

    [Fact]
    public async Task Servers_without_jetstream_fail_the_start_saying_so()
    {
        await using var server = await NatsCluster.StartWithoutJetStreamAsync();
        await using var client = new JetStreamClient(new JetStreamOptions { Servers = [server.Url], Stream = _stream }, NullLoggerFactory.Instance);

        var ex = await Assert.ThrowsAsync<SinkUnavailableException>(() => client.OpenAsync(TestContext.Current.CancellationToken).AsTask());

        Assert.Contains("is JetStream on", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_user_and_password_are_presented_and_a_wrong_password_fails_the_start_with_the_servers_answer()
    {
        await using var server = await NatsCluster.StartWithoutJetStreamAsync("--user", "edge", "--pass", "right horse battery");
        var url = server.Url;
        await using var wrong = new JetStreamClient(new JetStreamOptions { Servers = [url], User = "edge", Password = "not-this-one" }, NullLoggerFactory.Instance);
        var refused = await Assert.ThrowsAsync<SinkUnavailableException>(() => wrong.OpenAsync(TestContext.Current.CancellationToken).AsTask());
        Assert.Contains("cannot reach the NATS servers", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Authorization Violation", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-this-one", refused.ToString(), StringComparison.Ordinal); // a password is never said

        // The right one is let in, and the start then fails for the next reason: this server has no JetStream.
        await using var right = new JetStreamClient(
            new JetStreamOptions { Servers = [url], User = "edge", Password = "right horse battery" }, NullLoggerFactory.Instance);
        var next = await Assert.ThrowsAsync<SinkUnavailableException>(() => right.OpenAsync(TestContext.Current.CancellationToken).AsTask());
        Assert.Contains("is JetStream on", next.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("right horse battery", next.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_larger_than_the_servers_store_fails_the_start_naming_the_setting_to_lower()
    {
        await using var client = new JetStreamClient(
            new JetStreamOptions { Servers = NatsCluster.Url().Split(','), Stream = _stream, Subject = "spillway." + _stream, MaxBytes = 1L << 40 },
            NullLoggerFactory.Instance);

        var ex = await Assert.ThrowsAsync<SinkUnavailableException>(() => client.OpenAsync(TestContext.Current.CancellationToken).AsTask());

        Assert.Contains("max_file_store", ex.Message, StringComparison.Ordinal);
        Assert.Contains("--nats-stream-max-bytes", ex.Message, StringComparison.Ordinal);
    }

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        _meters.Dispose();

        // The stream of the test goes with it.
        if (Environment.GetEnvironmentVariable("SPILLWAY_TEST_NATS") is { Length: > 0 } url)
        {
            await using var connection = new NatsConnection(new NatsOpts { Url = url });
            try
            {
                await new NatsJSContext(connection).DeleteStreamAsync(_stream);
            }
            catch (NatsJSApiException)
            {
                // Never made.
            }
        }
    }

    private async Task<(JetStreamSink Sink, JetStreamBuffer Buffer, JetStreamMetrics Metrics)> EdgeAndWriterAsync(
        int maxMessageBytes = 0, long maxBytes = 64L << 20)
    {
        var options = new JetStreamOptions
        {
            Servers = NatsCluster.Url().Split(','), Stream = _stream, Subject = "spillway." + _stream, Consumer = "writers",
            MaxMessageBytes = maxMessageBytes, MaxBytes = maxBytes, AckWait = TimeSpan.FromSeconds(30),
        };
        var client = new JetStreamClient(options, NullLoggerFactory.Instance);
        _owned.Add(client);
        var metrics = new JetStreamMetrics(_meters, "Spillway.Tests");
        var sink = new JetStreamSink(client, metrics, 2048, TimeProvider.System);
        await sink.OpenAsync(TestContext.Current.CancellationToken);
        var buffer = new JetStreamBuffer(client, metrics, new IngestBufferOptions(), 64 * 1024, new IngestStats(), TimeProvider.System,
            NullLogger<JetStreamBuffer>.Instance);
        await buffer.OpenAsync(TestContext.Current.CancellationToken);
        _owned.Add(buffer);
        return (sink, buffer, metrics);
    }

    private static async Task<bool> TakeAsync(JetStreamBuffer buffer, Batch batch) =>
        await buffer.TakeAsync(batch, new BatchWriterOptions(), TimeProvider.System, TestContext.Current.CancellationToken)
            .AsTask().WaitAsync(TestTimeouts.Wait, TestContext.Current.CancellationToken);

    private async Task<JetStreamMetrics.StateSnapshot> StateAsync(JetStreamMetrics metrics)
    {
        await metrics.PollAsync((JetStreamClient)_owned[0], consumer: true, TestContext.Current.CancellationToken);
        return metrics.State;
    }

    private static Batch Batch(int count, int seed)
    {
        var random = new Random(seed);
        var batch = new Batch { Id = Guid.CreateVersion7() };
        for (var i = 0; i < count; i++)
        {
            var text = $"seed {seed} message {i} " + new string('x', random.Next(50, 400));
            batch.Add(new Message(DateTimeOffset.UnixEpoch, Transport.Tcp, "127.0.0.1:1", text, text.Length));
        }

        return batch;
    }
}
