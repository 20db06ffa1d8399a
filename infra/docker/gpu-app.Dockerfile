# syntax=docker/dockerfile:1
# The GPU worker and the trainer. Build context: the repository root. APP picks the project:
#   docker build -f infra/docker/gpu-app.Dockerfile --build-arg APP=Worker  -t shortcut-worker .
#   docker build -f infra/docker/gpu-app.Dockerfile --build-arg APP=Trainer -t shortcut-trainer .
# (infra/scripts/build-images.sh builds both in the registry with az acr build.)
# -p:TorchBackend=cuda swaps libtorch-cpu for TorchSharp-cuda-linux, which brings libtorch's CUDA libraries;
# the base image brings the CUDA 12.8 runtime and Ubuntu 24.04's libstdc++ (GLIBCXX_3.4.32, which TorchSharp 0.107 needs).
# Configuration comes from the environment (SettingNames: the ShortcutStorage__* identity settings; optional
# ShortcutPipeline__Worker__* / ShortcutPipeline__Trainer__* tuning). On SIGTERM the worker finishes its batch:
# the container app gives it terminationGracePeriodSeconds = 150.

ARG APP=Worker

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
ARG APP
WORKDIR /src
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY src/ src/
RUN dotnet publish "src/ShortcutPipeline.${APP}/ShortcutPipeline.${APP}.csproj" \
        -c Release -o /app -p:TorchBackend=cuda -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/runtime:10.0-noble AS dotnet

FROM nvidia/cuda:12.8.1-runtime-ubuntu24.04
ARG APP
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3t64 tzdata zlib1g \
    && rm -rf /var/lib/apt/lists/*
COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet
RUN ln -s /usr/share/dotnet/dotnet /usr/bin/dotnet
COPY --from=build /app /app
ENV DOTNET_ROOT=/usr/share/dotnet \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    APP_ASSEMBLY=ShortcutPipeline.${APP}.dll
WORKDIR /app
USER 1000
ENTRYPOINT ["/bin/sh", "-c", "exec dotnet \"/app/$APP_ASSEMBLY\" \"$@\"", "--"]
