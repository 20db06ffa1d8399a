# syntax=docker/dockerfile:1
# The GPU worker's image. Build from the repository root:
#   docker build -f infra/docker/worker.Dockerfile -t shortcut-worker .
# TORCH_BACKEND=cuda (the default) bundles libtorch for CUDA (TorchSharp-cuda-linux, CUDA runtime libraries
# included); the host provides the NVIDIA driver (Container Apps GPU workload profiles do).
# TORCH_BACKEND=cpu builds a CPU-only image.
# Configuration comes from the environment: the storage settings of SettingNames (ShortcutStorage, or
# ShortcutStorage__blobServiceUri/__queueServiceUri/__tableServiceUri/__credential/__clientId) and the optional
# ShortcutPipeline__Worker__* tuning of WorkerOptions. Give the container a termination grace period of at
# least ShortcutPipeline__Worker__ShutdownTimeout (120 s by default): on SIGTERM it finishes its batch.
ARG TORCH_BACKEND=cuda

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG TORCH_BACKEND
WORKDIR /source
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY src/ShortcutPipeline.Model/ShortcutPipeline.Model.csproj src/ShortcutPipeline.Model/
COPY src/ShortcutPipeline.Core/ShortcutPipeline.Core.csproj src/ShortcutPipeline.Core/
COPY src/ShortcutPipeline.Worker/ShortcutPipeline.Worker.csproj src/ShortcutPipeline.Worker/
RUN dotnet restore src/ShortcutPipeline.Worker/ShortcutPipeline.Worker.csproj -r linux-x64 -p:TorchBackend=${TORCH_BACKEND}
COPY src/ShortcutPipeline.Model/ src/ShortcutPipeline.Model/
COPY src/ShortcutPipeline.Core/ src/ShortcutPipeline.Core/
COPY src/ShortcutPipeline.Worker/ src/ShortcutPipeline.Worker/
RUN dotnet publish src/ShortcutPipeline.Worker/ShortcutPipeline.Worker.csproj -c Release -r linux-x64 --self-contained false \
    --no-restore -p:TorchBackend=${TORCH_BACKEND} -o /app

FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app ./
ENV ShortcutPipeline__Worker__ModelCacheDirectory=/tmp/shortcut-models
USER $APP_UID
ENTRYPOINT ["dotnet", "ShortcutPipeline.Worker.dll"]
