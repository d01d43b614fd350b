using System.Threading.Channels;

namespace Spillway.Demos;

/// <summary>
/// The article's final program: a bounded queue between a producer and a consumer, and an event that stops both,
/// with the queue drained so nothing is lost. Spillway's serve is this program for real.
/// </summary>
public sealed class QueuePipelineDemo : IDemo
{
    /// <inheritdoc />
    public string Name => "queue-pipeline";

    /// <inheritdoc />
    public string Summary => "a bounded queue and a stop event: the producer stops, the consumer drains, produced == consumed";

    /// <inheritdoc />
    public async Task<DemoOutcome> RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Explain($"article: Pipeline(queue.Queue(maxsize=10)) and threading.Event; here capacity {context.Capacity}.");
        context.Explain(".NET:    Channel.CreateBounded<int>(capacity) and a CancellationToken as the event.");

        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(context.Capacity)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = true,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long produced = 0;
        long consumed = 0;

        var producer = Task.Run(async () =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    var message = context.Random.Next(1, 101);
                    context.Debug($"Producer got message: {message}");

                    // The write is not cancelled by the event: a message in hand is put in the queue, waiting for room
                    // if need be (the consumer keeps taking until the end, so room comes), and counted once it is in.
                    await channel.Writer.WriteAsync(message, CancellationToken.None);
                    produced++;
                }
            }
            finally
            {
                channel.Writer.Complete(); // nothing more will come: this is what lets the consumer finish safely
            }

            context.Info("Producer received event. Exiting");
        }, CancellationToken.None);

        var consumer = Task.Run(async () =>
        {
            await foreach (var message in channel.Reader.ReadAllAsync(CancellationToken.None))
            {
                consumed++;
                context.Debug($"Consumer storing message: {message} (size={channel.Reader.Count})");
            }

            context.Info("Consumer received event. Exiting");
        }, CancellationToken.None);

        await context.DelayAsync(context.StopAfter, cancellationToken);
        context.Info("Main: about to set event");
        await stop.CancelAsync();
        await Task.WhenAll(producer, consumer).WaitAsync(context.HangTimeout, cancellationToken);

        context.Info($"produced {produced}, consumed {consumed}");
        context.Explain("The article's consumer loops while not event.is_set() or not pipeline.empty(). That leaves a window: the");
        context.Explain("producer checks the event, the consumer sees it set and the queue empty and leaves, the producer puts one");
        context.Explain("more message that nobody takes. Completing the channel closes the window: the producer says when it is");
        context.Explain("done, and ReadAllAsync ends only after that, with the queue empty.");
        context.Explain("`spillway serve` is this program for real: the TCP connections are the producer, the IngestBuffer the");
        context.Explain("bounded queue (in messages and bytes), the BatchWriter the consumer writing to the database, SIGTERM the event.");
        return new DemoOutcome(produced == consumed, $"produced {produced}, consumed {consumed}");
    }
}
