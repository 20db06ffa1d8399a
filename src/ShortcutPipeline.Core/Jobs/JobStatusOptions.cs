namespace ShortcutPipeline.Core.Jobs;

/// <summary>How image links are made in a <see cref="JobStatus"/>.</summary>
public enum ImageLinkMode
{
    /// <summary>
    /// Read-only SAS URLs: signed with the account key when the storage connection has one (a connection
    /// string), with a user delegation key when it authenticates with an identity.
    /// </summary>
    Sas,

    /// <summary>Plain blob URLs (for public containers, or callers that authenticate themselves).</summary>
    Plain,
}

/// <summary>Options of the status and progress services (configuration section <see cref="SectionName"/>).</summary>
public sealed class JobStatusOptions
{
    /// <summary>The configuration section these options bind from (<c>ShortcutPipeline__Status__ImageLinks</c>, ...).</summary>
    public const string SectionName = "ShortcutPipeline:Status";

    /// <summary>How image links are made (default <see cref="ImageLinkMode.Sas"/>).</summary>
    public ImageLinkMode ImageLinks { get; set; } = ImageLinkMode.Sas;

    /// <summary>How long an image SAS URL stays valid (default 1 hour).</summary>
    public TimeSpan SasLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often a status update is tried when other writers keep changing the record (default 100).</summary>
    public int UpdateAttempts { get; set; } = 100;
}
