namespace Spillway.Messages;

/// <summary>The names under which reject reasons are stored, counted and logged.</summary>
public static class RejectReasonNames
{
    /// <summary>Every reason, in declaration order; index with <c>(int)reason</c>.</summary>
    public static IReadOnlyList<RejectReason> All { get; } = Enum.GetValues<RejectReason>();

    /// <summary>Returns the name stored in the <c>reason</c> column, such as <c>invalid-utf8</c>.</summary>
    public static string ToName(this RejectReason reason) => reason switch
    {
        RejectReason.Oversize => "oversize",
        RejectReason.InvalidUtf8 => "invalid-utf8",
        RejectReason.Truncated => "truncated",
        RejectReason.RefusedByDb => "refused-by-db",
        RejectReason.Undecodable => "undecodable",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Unknown reject reason."),
    };
}
