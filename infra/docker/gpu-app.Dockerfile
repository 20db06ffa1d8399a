# syntax=docker/dockerfile:1
# The GPU image: the `shortcut` command line, whose `worker` and `trainer` commands are the GPU worker app and the
# trainer job (the stacks give each its command as the container's args). Build context: the repository root.
#   docker build --platform linux/amd64 -f infra/docker/gpu-app.Dockerfile -t shortcut .
#   docker run --gpus all -e ShortcutStorage=... shortcut worker
# (infra/scripts/build-images.sh builds it, in the registry with az acr build or here with --local.)
#
# -p:TorchBackend=cuda swaps libtorch-cpu for TorchSharp-cuda-linux, whose libtorch packages carry the CUDA
# runtime, cuBLAS and cuDNN libraries themselves. So the base is the plain .NET 10 runtime on Ubuntu 24.04
# (whose libstdc++ has the GLIBCXX_3.4.32 that TorchSharp 0.107 needs), not an nvidia/cuda image that would add
# about 3 GB of the same libraries. The NVIDIA driver (libcuda) comes from the host: the NVIDIA container runtime
# mounts it when NVIDIA_VISIBLE_DEVICES and NVIDIA_DRIVER_CAPABILITIES ask for it.
#
# Configuration comes from the environment (SettingNames: the ShortcutStorage__* identity settings; optional
# ShortcutPipeline__Worker__* / ShortcutPipeline__Trainer__* tuning, or --Name=value args). The health server listens on 8080
# (ShortcutPipeline__Health__Port), which the stacks' probes call. On SIGTERM the worker finishes its batch:
# the container app gives it terminationGracePeriodSeconds = 150. The apps run as the image's non-root user app.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish "src/ShortcutPipeline.Cli/ShortcutPipeline.Cli.csproj" \
        -c Release -o /app -p:TorchBackend=cuda -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/runtime:10.0-noble
COPY --from=build /app /app
ENV NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    DOTNET_CLI_TELEMETRY_OPTOUT=1
WORKDIR /app
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "/app/shortcut.dll"]
