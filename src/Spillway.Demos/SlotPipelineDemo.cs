namespace Spillway.Demos;

/// <summary>
/// The article's first producer/consumer: a one-message Pipeline guarded by two locks, ended by a SENTINEL. Also
/// its subtle point: reading the shared field after releasing the producer's lock can return the next message.
/// </summary>
public sealed class SlotPipelineDemo : IDemo
{
    private const int Sentinel = -1;
    private const int Count = 10;

    /// <inheritdoc />
    public string Name => "slot-pipeline";

    /// <inheritdoc />
    public string Summary => "the two-lock single-slot Pipeline with a SENTINEL: ten messages arrive, in order; and its subtle race";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain("article: Pipeline with producer_lock and consumer_lock (the consumer's taken at start), one message slot.");
        context.Explain(".NET:    the consumer releases the producer's lock and vice versa. lock/Monitor/Lock belong to the thread");
        context.Explain("         that took them and throw if another releases them, so the article's Lock is a SemaphoreSlim here.");

        var sent = new List<int>();
        var received = new List<int>();
        using var pipeline = new Pipeline();
        var producer = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < Count; i++)
            {
                var message = context.Random.Next(1, 101);
                context.Info($"Producer got message: {message}");
                sent.Add(message);
                pipeline.SetMessage(message);
            }

            pipeline.SetMessage(Sentinel);
            context.Info("Producer: sent the SENTINEL");
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var consumer = Task.Factory.StartNew(() =>
        {
            for (var message = pipeline.GetMessage(); message != Sentinel; message = pipeline.GetMessage())
            {
                context.Info($"Consumer storing message: {message}");
                received.Add(message);
            }

            context.Info("Consumer: got the SENTINEL");
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await Task.WhenAll(producer, consumer).WaitAsync(context.HangTimeout, cancellationToken);
        var inOrder = sent.SequenceEqual(received);
        context.Info($"sent {string.Join(' ', sent)}; received {string.Join(' ', received)}");

        context.Explain("The subtle point: get_message must copy the message before it releases the producer's lock. If it");
        context.Explain("returned self.message after the release, the producer could store the next message first. Forced here:");
        var (first, second, got) = await ShowUnsafeGetAsync(context, cancellationToken);
        context.Explain("The safe form reads the slot into a local while it still holds the consumer's lock, then releases.");

        return new DemoOutcome(inOrder && got == second,
            $"{received.Count} of {sent.Count} messages received in order; the unsafe get returned {got} where {first} was sent first");
    }

    /// <summary>One exchange with the unsafe get, the producer let in between the release and the read.</summary>
    private static async Task<(int First, int Second, int Got)> ShowUnsafeGetAsync(DemoContext context, CancellationToken cancellationToken)
    {
        using var pipeline = new Pipeline();
        var first = context.Random.Next(1, 101);
        var second = first % 100 + 1;
        using var secondStored = new ManualResetEventSlim();
        var producer = Task.Factory.StartNew(() =>
        {
            pipeline.SetMessage(first);
            pipeline.SetMessage(second);
            secondStored.Set();
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var got = pipeline.GetMessageUnsafe(afterRelease: () => secondStored.Wait(context.HangTimeout, cancellationToken));
        context.Info($"unsafe get_message returned {got}; the producer sent {first} and then {second}: {first} is lost");
        var next = pipeline.GetMessage();
        context.Info($"the next get_message returns {next} again: lost one message, duplicated another");
        await producer.WaitAsync(context.HangTimeout, cancellationToken);
        return (first, second, got);
    }

    /// <summary>The article's Pipeline: one message, a lock for each side.</summary>
    private sealed class Pipeline : IDisposable
    {
        private readonly SemaphoreSlim _producerLock = new(1, 1);
        private readonly SemaphoreSlim _consumerLock = new(0, 1); // taken at start: there is no message yet
        private int _message;

        public int GetMessage()
        {
            _consumerLock.Wait();
            var message = _message; // copied while the producer is still locked out
            _producerLock.Release();
            return message;
        }

        public int GetMessageUnsafe(Action afterRelease)
        {
            _consumerLock.Wait();
            _producerLock.Release();
            afterRelease(); // the operating system may switch to the producer right here
            return _message;
        }

        public void SetMessage(int message)
        {
            _producerLock.Wait();
            _message = message;
            _consumerLock.Release();
        }

        public void Dispose()
        {
            _producerLock.Dispose();
            _consumerLock.Dispose();
        }
    }
}
