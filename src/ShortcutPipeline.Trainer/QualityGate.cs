using System.Net;
using Azure;
using Azure.Storage.Blobs;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ShortcutPipeline.Trainer;

/// <summary>
/// Scores checkpoints for a quality promotion policy: the Fréchet distance at the policy's step budget, in the
/// features of a classifier trained once per run on the run's data and kept beside its checkpoints (so a resumed run
/// scores with the same classifier).
/// </summary>
internal sealed class QualityGate : IDisposable
{
    private readonly QualityClassifier classifier;
    private readonly QualityEvaluation evaluation;
    private readonly Device device;

    private QualityGate(PromotionPolicy policy, QualityClassifier classifier, ImageDataset reference, long seed, Device device)
    {
        Policy = policy;
        this.classifier = classifier;
        this.device = device;
        evaluation = new QualityEvaluation(classifier, reference, policy.Samples, seed);
    }

    public PromotionPolicy Policy { get; }

    /// <summary>The metric name: <c>fd@{budget}</c>.</summary>
    public string MetricName => $"fd@{Policy.Budget}";

    /// <summary>The metric of the best score so far: <c>bestFd@{budget}</c>.</summary>
    public string BestMetricName => $"bestFd@{Policy.Budget}";

    /// <summary>True when <paramref name="distance"/> is good enough to promote.</summary>
    public bool Passes(double distance) => distance <= Policy.MaxFrechetDistance;

    /// <summary>Loads the run's classifier from <paramref name="classifierBlob"/>, or trains it on <paramref name="data"/> and stores it there.</summary>
    public static async Task<QualityGate> CreateAsync(
        PromotionPolicy policy, ImageDataset data, BlobClient classifierBlob, string localPath, long seed, Device device, ILogger logger,
        CancellationToken cancellationToken)
    {
        QualityClassifier? classifier = null;
        try
        {
            await classifierBlob.DownloadToAsync(localPath, cancellationToken).ConfigureAwait(false);
            classifier = QualityClassifier.Load(localPath);
            if (!classifier.Fits(data))
            {
                classifier.Dispose();
                classifier = null;
            }
        }
        catch (RequestFailedException exception) when (exception.Status == (int)HttpStatusCode.NotFound)
        {
            // Not trained yet.
        }

        if (classifier is null)
        {
            logger.LogInformation("Training the run's quality classifier ({Steps} steps on {Images} images).", policy.ClassifierSteps, data.Count);
            classifier = new QualityClassifier(data.Channels, data.ImageSize, data.NumClasses, seed);
            classifier.to(device);
            classifier.Fit(data, policy.ClassifierSteps, batchSize: Math.Min(128, data.Count), seed: seed);
            classifier.Save(localPath);
            await classifierBlob.UploadAsync(localPath, overwrite: true, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            classifier.to(device);
        }

        return new QualityGate(policy, classifier, data, seed, device);
    }

    /// <summary>The Fréchet distance of the sampling export at <paramref name="samplingModelPath"/>, at the policy's budget.</summary>
    public double Evaluate(string samplingModelPath, CancellationToken cancellationToken)
    {
        using DiT model = Checkpoint.LoadForSampling(samplingModelPath, device);
        return evaluation.Evaluate("checkpoint", model, [Policy.Budget], cancellationToken).Single().FrechetDistance;
    }

    public void Dispose()
    {
        evaluation.Dispose();
        classifier.Dispose();
    }
}
