using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spillway.Diagnostics;
using Spillway.Messages;
using Spillway.Pipeline;

namespace Spillway.Cli.Hosting;

/// <summary>
/// Starts and stops the pipeline in order. Start: open the sinks (failing fast), start the writers, then, once every
/// hosted service has started (the web host's server among them, which holds the HTTP application by then), the
/// listeners. Stop: listeners stop accepting and reading and hand in their last frames, the buffer completes, the
/// writers drain it, the sinks close.
/// </summary>
internal sealed class IngestService(
    WriterPool writers,
    IEnumerable<ISource> sources,
    IIngestBuffer buffer,
    IBufferDiagnostics diagnostics,
    IngestStats stats,
    ShutdownControl shutdown,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<IngestService> logger,
    StreamWriters? stream = null) : IHostedLifecycleService
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);
    private readonly ISource[] _sources = [.. sources];
    private volatile (ISource Source, Transport Transport, IPEndPoint Endpoint)[] _listening = [];
    private Task _writer = Task.CompletedTask;
    private Task _streamWriter = Task.CompletedTask;
    private int _stopped;

    /// <summary>
    /// Every endpoint listened on, in the order the sources were started. A snapshot, replaced whole as sources start:
    /// <c>/health</c> reads it while the later sources are still starting.
    /// </summary>
    public IReadOnlyList<(ISource Source, Transport Transport, IPEndPoint Endpoint)> Listening => _listening;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (stream is not null)
        {
            // The writers of a node of both roles first: the edge then publishes to a stream that is being taken from.
            await stream.Pool.OpenAsync(cancellationToken);
            await stream.Buffer.OpenAsync(cancellationToken);
            _streamWriter = RunWritersAsync(stream.Pool);
        }

        await writers.OpenAsync(cancellationToken);
        await buffer.OpenAsync(cancellationToken);
        _writer = RunWritersAsync(writers);
        _ = WatchBufferAsync();
    }

    /// <summary>The listeners, in order; one that cannot listen stops what started and fails the start.</summary>
    public async Task StartedAsync(CancellationToken cancellationToken)
    {
        try
        {
            foreach (var source in _sources)
            {
                foreach (var endpoint in await source.StartAsync(shutdown.AbortToken))
                {
                    var transport = source.TransportOf(endpoint);
                    _listening = [.. _listening, (source, transport, endpoint)];
                    Log.Listening(logger, transport, endpoint);
                }
            }
        }
        catch
        {
            await StopAsync(CancellationToken.None);
            throw;
        }
    }

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        try
        {
            // Every source hands in what it holds before the buffer is told that no more will come.
            await Task.WhenAll(_sources.Select(s => s.StopAsync()));
            foreach (var source in _sources)
            {
                await source.DisposeAsync();
            }

            buffer.Complete();
            await WithProgressAsync(_writer);
            Log.Drained(logger, stats.Accepted, stats.Stored, stats.Rejected, stats.Dropped);
        }
        finally
        {
            // The spill log writes what it holds and its checkpoint, even on a forced stop: nothing in it is lost.
            if (buffer is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }

            await writers.DisposeAsync();
            if (stream is not null)
            {
                // What the stream holds stays there for the other writers, or for this node's next start.
                stream.Buffer.Complete();
                await _streamWriter;
                await ((IAsyncDisposable)stream.Buffer).DisposeAsync();
                await stream.Pool.DisposeAsync();
            }
        }
    }

    /// <summary>A buffer that can no longer keep what it takes (the spill log's disk failed) ends the service.</summary>
    private async Task WatchBufferAsync()
    {
        var stopped = Task.Delay(Timeout.InfiniteTimeSpan, time, lifetime.ApplicationStopped);
        if (await Task.WhenAny(diagnostics.Faulted, stopped) == diagnostics.Faulted)
        {
            shutdown.Fail(new IOException("the spill log failed: " + diagnostics.Failure));
            lifetime.StopApplication();
        }
    }

    private async Task RunWritersAsync(WriterPool pool)
    {
        try
        {
            await pool.RunAsync(shutdown.AbortToken);
        }
        catch (OperationCanceledException) when (shutdown.AbortToken.IsCancellationRequested)
        {
            // Forced stop or a fatal error elsewhere: the summary counts what was not stored.
        }
        catch (Exception ex)
        {
            Log.WriterFailed(logger, ex);
            shutdown.Fail(ex);
            lifetime.StopApplication();
        }
    }

    /// <summary>Waits for the drain, logging what is left every couple of seconds so a long drain is visibly alive.</summary>
    private async Task WithProgressAsync(Task drain)
    {
        while (!drain.IsCompleted)
        {
            using var tick = new CancellationTokenSource();
            var delay = Task.Delay(ProgressInterval, time, tick.Token);
            if (await Task.WhenAny(drain, delay) == delay)
            {
                Log.Draining(logger, buffer.Messages, buffer.Bytes);
            }

            await tick.CancelAsync();
        }

        await drain;
    }
}
