namespace Spillway.Pipeline;

/// <summary>What a source does with a message that finds the buffer full.</summary>
public enum FullPolicy
{
    /// <summary>Wait for room: stop reading, so the sender is pushed back (TCP's window closes, HTTP's request waits).</summary>
    Wait,

    /// <summary>Drop the message, count it as dropped and log the reason once per interval (UDP cannot push back).</summary>
    Drop,
}
