using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ShortcutPipeline.Core.Training;

/// <summary>
/// The datasets a training request names: fingerprints (so that the scheduler can tell whether a dataset changed)
/// and the download of a <c>blob:PREFIX</c> dataset from the datasets container into a local folder.
/// </summary>
public sealed class TrainingDatasets
{
    /// <summary>The dataset name of the built-in Fashion-MNIST (the model library's <c>DatasetSource</c> knows it).</summary>
    public const string FashionMnist = "fashion-mnist";

    private readonly BlobContainerClient container;

    /// <summary>Datasets in the datasets container of <paramref name="storage"/>.</summary>
    public TrainingDatasets(PipelineStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        container = storage.DatasetsContainer;
    }

    /// <summary>
    /// A fingerprint of the dataset's content as far as it can be seen from here: for <c>blob:PREFIX</c> the names,
    /// sizes and content hashes (or ETags) of the blobs under the prefix; for a folder the relative paths, sizes and
    /// modification times of its files; for the built-in Fashion-MNIST its name (it never changes); for a folder that
    /// is not there, <c>missing:{path}</c>.
    /// </summary>
    public async Task<string> FingerprintAsync(string dataset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (TrainingRequest.BlobPrefixOf(dataset) is { } prefix)
        {
            var lines = new StringBuilder();
            foreach (BlobItem blob in await ListAsync(prefix, cancellationToken).ConfigureAwait(false))
            {
                string content = blob.Properties.ContentHash is { Length: > 0 } hash ? Convert.ToHexStringLower(hash) : blob.Properties.ETag?.ToString() ?? "";
                lines.Append(CultureInfo.InvariantCulture, $"{blob.Name}\t{blob.Properties.ContentLength}\t{content}\n");
            }

            return "blob:" + GenerationJobReader.HashOf(Encoding.UTF8.GetBytes(lines.ToString()));
        }

        if (dataset == FashionMnist)
        {
            return "builtin:" + FashionMnist;
        }

        string folder = dataset.StartsWith(FashionMnist + ":", StringComparison.Ordinal) ? dataset[(FashionMnist.Length + 1)..] : dataset;
        if (!Directory.Exists(folder))
        {
            return "missing:" + folder;
        }

        var files = new StringBuilder();
        foreach (FileInfo file in new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories)
                     .OrderBy(f => f.FullName, StringComparer.Ordinal))
        {
            files.Append(CultureInfo.InvariantCulture,
                $"{Path.GetRelativePath(folder, file.FullName)}\t{file.Length}\t{file.LastWriteTimeUtc.Ticks}\n");
        }

        return "folder:" + GenerationJobReader.HashOf(Encoding.UTF8.GetBytes(files.ToString()));
    }

    /// <summary>
    /// Downloads every blob under <paramref name="prefix"/> (a <see cref="TrainingRequest.DatasetBlobPrefix"/>) into
    /// <paramref name="destination"/>, keeping the paths below the prefix (CLASS/IMAGE files, or IDX files). Returns
    /// how many files were written.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No blob lies under the prefix.</exception>
    /// <exception cref="InvalidDataException">A blob name would leave the destination folder.</exception>
    public async Task<int> DownloadAsync(string prefix, string destination, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        ArgumentException.ThrowIfNullOrEmpty(destination);
        IReadOnlyList<BlobItem> blobs = await ListAsync(prefix, cancellationToken).ConfigureAwait(false);
        if (blobs.Count == 0)
        {
            throw new DirectoryNotFoundException(
                $"The dataset {TrainingRequest.BlobDatasetPrefix}{prefix.TrimEnd('/')} has no blobs: nothing lies under the prefix " +
                $"\"{prefix}\" of the container \"{container.Name}\". Upload one folder of images per class (CLASS/IMAGE.png) or the Fashion-MNIST IDX files there.");
        }

        string root = Path.GetFullPath(destination);
        foreach (BlobItem blob in blobs)
        {
            string relative = blob.Name[prefix.Length..];
            string path = Path.GetFullPath(Path.Combine(root, relative));
            if (relative.Split('/').Contains("..") || !path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"The dataset blob \"{blob.Name}\" of the container \"{container.Name}\" would be written outside the dataset folder.");
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await container.GetBlobClient(blob.Name).DownloadToAsync(path, cancellationToken).ConfigureAwait(false);
        }

        return blobs.Count;
    }

    private async Task<IReadOnlyList<BlobItem>> ListAsync(string prefix, CancellationToken cancellationToken)
    {
        var blobs = new List<BlobItem>();
        if (!await container.ExistsAsync(cancellationToken).ConfigureAwait(false))
        {
            return blobs;
        }

        await foreach (BlobItem blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, cancellationToken)
                           .ConfigureAwait(false))
        {
            if (!blob.Name.EndsWith('/'))
            {
                blobs.Add(blob);
            }
        }

        return blobs.OrderBy(blob => blob.Name, StringComparer.Ordinal).ToList();
    }
}
