using System.Text;

namespace Spillway.Bench.Tests;

public sealed class MessageGeneratorTests
{
    [Theory]
    [InlineData(19)]
    [InlineData(100)]
    [InlineData(4096)]
    public void Messages_have_the_exact_size_and_carry_their_sequence_number(int size)
    {
        var generator = new MessageGenerator(size);
        foreach (var seq in new long[] { 0, 1, 42, 9_999_999_999 })
        {
            var message = Encoding.ASCII.GetString(generator.Next(seq));
            Assert.Equal(size, message.Length);
            Assert.True(MessageGenerator.TryParse(message, out var parsed));
            Assert.Equal(seq, parsed);
            Assert.DoesNotContain('\n', message);
            Assert.StartsWith("<13>seq=", message, StringComparison.Ordinal);
            Assert.True(MessageGenerator.TryParse(message[4..], out parsed)); // as a syslog parser leaves it
            Assert.Equal(seq, parsed);
        }
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("seq=12345")]
    [InlineData("seq=abcdefghij rest")]
    public void Other_text_is_not_taken_for_a_generated_message(string text) => Assert.False(MessageGenerator.TryParse(text, out _));
}
