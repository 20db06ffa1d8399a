using System.Runtime.CompilerServices;

// The tests check internal building blocks (e.g. the VAE's attention) against reference computations.
[assembly: InternalsVisibleTo("ShortcutPipeline.Model.Tests")]
