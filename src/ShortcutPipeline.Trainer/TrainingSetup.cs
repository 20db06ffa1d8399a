using ShortcutPipeline.Contracts;
using ShortcutPipeline.Core.Training;
using ShortcutPipeline.Model;
using ShortcutPipeline.Model.Data;

namespace ShortcutPipeline.Trainer;

/// <summary>What a training request means for the model library: the model's configuration, the training options, the data.</summary>
internal static class TrainingSetup
{
    /// <summary>
    /// The preset with the request's overrides, in pixel space (the trainer learns from images; a latent preset gets
    /// 3 channels unless the request says otherwise). The class count comes from the data later.
    /// </summary>
    /// <exception cref="TrainingRequestException">The preset is unknown or the overrides make no valid model.</exception>
    public static DiTConfig Config(TrainingRequest request)
    {
        DiTConfig preset;
        try
        {
            preset = DiT.Preset(request.Preset);
        }
        catch (ArgumentException exception)
        {
            throw TrainingRequestException.From("$.preset", exception);
        }

        DiTConfig config = preset with
        {
            InputSize = request.InputSize ?? preset.InputSize,
            InChannels = request.Channels ?? (preset.InChannels is 1 or 3 ? preset.InChannels : 3),
            PatchSize = request.PatchSize ?? preset.PatchSize,
            HiddenSize = request.HiddenSize ?? preset.HiddenSize,
            Depth = request.Depth ?? preset.Depth,
            NumHeads = request.NumHeads ?? preset.NumHeads,
            Space = "pixel",
        };
        try
        {
            config.Validate();
        }
        catch (ArgumentException exception)
        {
            throw TrainingRequestException.From($"$.preset {request.Preset} with the request's sizes", exception);
        }

        return config;
    }

    /// <summary>
    /// Opens the request's dataset at the model's size and channels; a <c>blob:PREFIX</c> dataset is downloaded into
    /// <paramref name="downloadFolder"/> first.
    /// </summary>
    /// <exception cref="TrainingRequestException">The dataset is missing, empty, corrupt or does not fit the model.</exception>
    public static async Task<ImageDataset> OpenDatasetAsync(
        TrainingRequest request, DiTConfig config, TrainingDatasets datasets, string downloadFolder, CancellationToken cancellationToken)
    {
        try
        {
            string spec = request.Dataset;
            if (request.DatasetBlobPrefix is { } prefix)
            {
                await datasets.DownloadAsync(prefix, downloadFolder, cancellationToken).ConfigureAwait(false);
                spec = downloadFolder;
            }

            ImageDataset data = await DatasetSource.OpenAsync(
                spec, config.InputSize, config.InChannels, FashionMnistSplit.Train, request.DatasetLimit, cancellationToken).ConfigureAwait(false);
            if (data.Count == 0)
            {
                data.Dispose();
                throw new InvalidDataException($"The dataset {request.Dataset} holds no images.");
            }

            return data;
        }
        catch (Exception exception) when (TrainingRequestException.IsRequestProblem(exception))
        {
            throw TrainingRequestException.From("$.dataset", exception);
        }
    }
}
