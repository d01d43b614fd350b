using System.Text;
using Spillway.Messages;

namespace Spillway.Core.Tests;

public sealed class MessageTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 25, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Text_given_as_UTF8_is_held_as_given_and_read_back_as_a_string()
    {
        var utf8 = "grüße 𝄞"u8;
        var message = new Message(At, Transport.Tcp, "127.0.0.1:1", utf8, 42);

        Assert.True(message.Utf8Text.Span.SequenceEqual(utf8));
        Assert.Equal("grüße 𝄞", message.Text);
        Assert.Equal(42, message.Size);
    }

    [Fact]
    public void Text_given_as_UTF8_is_copied_so_the_caller_may_reuse_its_buffer()
    {
        var buffer = Encoding.UTF8.GetBytes("first");
        var message = new Message(At, Transport.Tcp, "127.0.0.1:1", buffer, buffer.Length);
        "other"u8.CopyTo(buffer);

        Assert.Equal("first", message.Text);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_refused()
    {
        byte[] invalid = [(byte)'a', 0xC3, 0x28];
        var error = Assert.Throws<ArgumentException>(() => new Message(At, Transport.Tcp, "127.0.0.1:1", invalid, 3));
        Assert.Equal("utf8Text", error.ParamName);
    }

    [Fact]
    public void Text_given_as_a_string_is_held_as_UTF8_with_a_lone_surrogate_replaced()
    {
        var message = new Message(At, Transport.Http, "127.0.0.1:1", "a\uD800b", 3);

        Assert.Equal("a\uFFFDb", message.Text);
        Assert.True(message.Utf8Text.Span.SequenceEqual("a\uFFFDb"u8));
    }
}
