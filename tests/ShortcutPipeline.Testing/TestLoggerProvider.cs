using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ShortcutPipeline.Testing;

/// <summary>One line a <see cref="TestLoggerProvider"/> logger wrote.</summary>
/// <param name="Level">Its level.</param>
/// <param name="Category">The logger's category.</param>
/// <param name="Message">The formatted message (without the exception).</param>
/// <param name="Exception">The exception logged with it, if any.</param>
public sealed record LoggedMessage(LogLevel Level, string Category, string Message, Exception? Exception);

/// <summary>
/// Loggers that keep what they log (<see cref="Messages"/>, information and above) and, when given a writer, write it
/// too (a test's output, shown when the test fails).
/// </summary>
public sealed class TestLoggerProvider(Action<string>? write = null) : ILoggerProvider
{
    private readonly ConcurrentQueue<LoggedMessage> messages = new();

    /// <summary>Everything logged so far, oldest first.</summary>
    public IReadOnlyList<LoggedMessage> Messages => messages.ToArray();

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new TestLogger(this, categoryName);

    /// <summary>A typed logger over this provider.</summary>
    public ILogger<T> CreateLogger<T>() => new Logger<T>(new SingleProviderFactory(this));

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private void Add(LoggedMessage message)
    {
        messages.Enqueue(message);
        if (write is null)
        {
            return;
        }

        try
        {
            write($"{message.Level} {message.Category}: {message.Message}{(message.Exception is null ? "" : " " + message.Exception.Message)}");
        }
        catch (InvalidOperationException)
        {
            // The test has ended (a background renewal logged late).
        }
    }

    private sealed class TestLogger(TestLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Add(new LoggedMessage(logLevel, category, formatter(state, exception), exception));
            }
        }
    }

    private sealed class SingleProviderFactory(ILoggerProvider provider) : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider loggerProvider)
        {
        }

        public ILogger CreateLogger(string categoryName) => provider.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
