namespace Spillway.Diagnostics;

/// <summary>
/// Every log event id in Spillway, in one place so that none is used twice (a test checks). Each assembly has its
/// own <c>Log</c> class of <c>[LoggerMessage]</c> methods; all of them take their ids from here.
/// </summary>
public static class EventIds
{
#pragma warning disable CS1591 // The names say what they are; the Log methods that use them carry the text.
    // 1xxx: lifecycle
    public const int Listening = 1001;
    public const int Stopping = 1002;
    public const int Draining = 1003;
    public const int Drained = 1004;
    public const int StopForced = 1005;
    public const int Fatal = 1006;
    public const int SinkOpened = 1007;

    // 2xxx: sources
    public const int ConnectionOpened = 2001;
    public const int ConnectionClosed = 2002;
    public const int ConnectionReset = 2003;
    public const int ConnectionFailed = 2004;
    public const int AcceptFailed = 2005;
    public const int BadInput = 2006;
    public const int BadInputSuppressed = 2007;
    public const int UdpReceiveBuffer = 2008;
    public const int UdpReceiveFailed = 2009;
    public const int TlsLoaded = 2010;
    public const int TlsReloadFailed = 2011;
    public const int TlsReloadRequested = 2012;
    public const int TlsWatchFailed = 2013;
    public const int ApiKeysLoaded = 2014;
    public const int ApiKeysReloadFailed = 2015;
    public const int ApiKeysWatchFailed = 2016;
    public const int AdminListening = 2017;

    // 3xxx: writers and sinks
    public const int BatchWriteFailed = 3001;
    public const int BatchWriteRecovered = 3002;
    public const int JournalModeNotWal = 3003;
    public const int PostgresOpened = 3004;
    public const int PostgresRefused = 3005;
    public const int SqliteDamaged = 3006;
    public const int SqliteFileReplaced = 3007;
    public const int RetentionInForce = 3008;
    public const int RetentionSweepFailed = 3009;
    public const int SqliteSizeBound = 3010;
    public const int SqliteNoAutoVacuum = 3011;
    public const int PostgresUnpartitioned = 3012;
    public const int PostgresPartitionFailed = 3013;
    public const int PostgresPartitionDropped = 3014;

    // 4xxx: the spill log
    public const int SpillOpened = 4001;
    public const int SpillDamage = 4002;
    public const int SpillTornTail = 4003;
    public const int SpillCheckpointFallback = 4004;
    public const int SpillCutsDamaged = 4005;
    public const int SpillFailed = 4006;
    public const int SpillFull = 4007;
    public const int SpillBehind = 4008;
    public const int SpillRefusing = 4009;
    public const int SpillResumed = 4010;
    public const int SpillHousekeepingBehind = 4011;
    public const int SpillBudgetCapped = 4012;
    public const int SpillJournalRetry = 4013;
    public const int SpillReadRetry = 4014;

    // 5xxx: NATS JetStream (scale-out)
    public const int JetStreamConnected = 5001;
    public const int JetStreamCreated = 5002;
    public const int JetStreamDiffers = 5003;
    public const int JetStreamStateUnavailable = 5004;
    public const int JetStreamUndecodable = 5005;
    public const int JetStreamAckFailed = 5006;
    public const int JetStreamTakeFailed = 5007;
#pragma warning restore CS1591
}
