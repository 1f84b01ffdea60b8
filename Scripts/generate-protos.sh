#!/usr/bin/env bash
# Regenerates the committed Swift code of the TensorBoard event format,
# Sources/TensorBoard/Generated/tensorboard_event.pb.swift, from Sources/TensorBoard/Protos/tensorboard_event.proto
# with Debian's protoc and swift-protobuf's protoc-gen-swift built from the version Package.swift resolves
# (the plugin's build takes minutes, which is why the generated code is committed rather than generated
# by a build plugin on every clean build).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null; then
    apt-get install -y --no-install-recommends protobuf-compiler
fi
swift package resolve
checkout=.build/checkouts/swift-protobuf
swift build -c release --package-path "$checkout" --product protoc-gen-swift --scratch-path .build-protoc
protoc --plugin=protoc-gen-swift=.build-protoc/release/protoc-gen-swift \
    --swift_out=Sources/TensorBoard/Generated \
    -I Sources/TensorBoard/Protos Sources/TensorBoard/Protos/tensorboard_event.proto
echo "wrote Sources/TensorBoard/Generated/tensorboard_event.pb.swift"
