namespace Spillway.Http;

/// <summary>A request body that cannot be read as what its Content-Type says; the message is the reason given in the 400.</summary>
internal sealed class BadRequestException(string message) : Exception(message);
