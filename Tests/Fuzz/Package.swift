// swift-tools-version:6.0
// The fuzz targets, a package of their own: the executable links libFuzzer (`-sanitize=fuzzer`,
// see scripts/fuzz.sh), which the main package's builds must not need.
import PackageDescription

let package = Package(
    name: "SluiceFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Sluice", path: "../..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "SluiceFuzz",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "ConnectorKit", package: "Sluice"),
                .product(name: "Connectors", package: "Sluice"),
                .product(name: "PipelineLoader", package: "Sluice"),
                .product(name: "Parquet", package: "Sluice"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
