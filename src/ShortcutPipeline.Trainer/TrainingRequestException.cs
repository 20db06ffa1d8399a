namespace ShortcutPipeline.Trainer;

/// <summary>A request that cannot be trained (unknown preset, missing dataset, ...): its run fails with these reasons and is not retried.</summary>
internal sealed class TrainingRequestException(IReadOnlyList<string> reasons, Exception? innerException = null)
    : Exception(string.Join(" ", reasons), innerException)
{
    public IReadOnlyList<string> Reasons { get; } = reasons;

    /// <summary>The reason of an exception that says what is wrong with the request, prefixed with the request property it concerns.</summary>
    public static TrainingRequestException From(string path, Exception exception)
    {
        string message = exception is ArgumentException { ParamName: { } name }
            ? exception.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal)
            : exception.Message;
        return new TrainingRequestException([$"{path}: {message.ReplaceLineEndings(" ")}"], exception);
    }

    /// <summary>True for the exceptions that the model library throws for a bad preset, configuration or dataset.</summary>
    public static bool IsRequestProblem(Exception exception) =>
        exception is ArgumentException or DirectoryNotFoundException or FileNotFoundException or InvalidDataException;
}
