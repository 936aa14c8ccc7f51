// swift-tools-version:6.1
import PackageDescription

/// Settings applied to every Swift target: Swift 6 language mode comes from
/// `swiftLanguageModes`; these add the stricter upcoming features.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The folders of Sources/Connectors (and the bundle's file); each belongs to exactly one target.
let connectorFolders = ["Files", "CSV", "Codecs", "Log", "Schema", "JSONL", "Exec", "Postgres", "PostgresPartitions", "PostgresBackup",
                        "SMB", "SFTP", "MySQL", "Parquet", "PostgresArchive", "BuiltinPlugins.swift"]

/// A connector target made of some folders of Sources/Connectors; their READMEs are documentation
/// (Codecs, shared text decoding, is not a plugin and has none).
func connectors(_ name: String, folders: [String], dependencies: [Target.Dependency], documents: [String] = []) -> Target {
    .target(
        name: name,
        dependencies: dependencies,
        path: "Sources/Connectors",
        exclude: connectorFolders.filter { !folders.contains($0) } + folders.filter { !$0.hasSuffix(".swift") && $0 != "Codecs" }.map { "\($0)/README.md" }
            + documents,
        sources: folders
    )
}

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "ConnectorKit", targets: ["ConnectorKit"]),
        .library(name: "ConnectorKitTesting", targets: ["ConnectorKitTesting"]),
        .library(name: "Connectors", targets: ["Connectors"]),
        .library(name: "CoreConnectors", targets: ["CoreConnectors"]),
        .library(name: "PostgresConnector", targets: ["PostgresConnector"]),
        .library(name: "SMBConnector", targets: ["SMBConnector"]),
        .library(name: "SFTPConnector", targets: ["SFTPConnector"]),
        .library(name: "MySQLConnector", targets: ["MySQLConnector"]),
        .library(name: "ParquetConnector", targets: ["ParquetConnector"]),
        .library(name: "PostgresArchiveConnector", targets: ["PostgresArchiveConnector"]),
        .library(name: "SluiceCLI", targets: ["SluiceCLI"]),
        .library(name: "PipelineLoader", targets: ["PipelineLoader"]),
        .library(name: "SluiceRuntime", targets: ["SluiceRuntime"]),
        .library(name: "SluiceServer", targets: ["SluiceServer"]),
        .library(name: "Parquet", targets: ["Parquet"]),
        .executable(name: "sluice", targets: ["Runner"]),
        .executable(name: "bench", targets: ["Bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // No default traits: the status server needs neither swift-configuration nor full Foundation.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        // The plugin API and the shared engine. Depends on swift-log only.
        .target(
            name: "ConnectorKit",
            dependencies: ["CProcessSpawn", .product(name: "Logging", package: "swift-log"), .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // posix_spawn with glibc's _np file actions, for `SpawnedProcess`.
        .target(name: "CProcessSpawn"),
        // SSE2 byte classes for the CSV scanner and the text check (Swift cannot say movemask).
        .target(name: "CByteClasses"),
        .target(
            name: "ConnectorKitTesting",
            dependencies: ["ConnectorKit", .product(name: "Logging", package: "swift-log")]
        ),
        // libpq (Debian: libpq-dev), wrapped once in Connectors/Postgres/PQConnection.swift.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // libsmbclient (Debian: libsmbclient-dev), wrapped once in Connectors/SMB/SMBClient.swift;
        // loaded with dlopen on first use (see smbclient_loader.c), not linked.
        .target(name: "CSMBClient", linkerSettings: [.linkedLibrary("dl")]),
        // libssh2 (Debian: libssh2-1-dev), wrapped once in Connectors/SFTP/SSHSession.swift.
        .systemLibrary(name: "CLibSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        // libmariadb (Debian: libmariadb-dev), wrapped once in Connectors/MySQL/MySQLConnection.swift.
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        // Block compression for Parquet pages: libzstd (libzstd-dev), libsnappy (libsnappy-dev) and
        // zlib (zlib1g-dev), each wrapped once in CompressionCodecs.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CompressionCodecs", dependencies: ["CZstd", "CSnappy", "CZlib"]),
        // The Parquet writer and reader, written from the specification (no Parquet library exists
        // for Swift here). Depends on ConnectorKit's record types only, not on Connectors.
        .target(name: "Parquet", dependencies: ["ConnectorKit", "CompressionCodecs"]),
        // Built-in plugins, one folder each under Sources/Connectors. Each C-backed connector is a
        // target of its own, so a package needing only the file source and the CSV decoder links
        // none of libpq, libsmbclient, libssh2 or the compressors; `Connectors` bundles them all.
        connectors("CoreConnectors", folders: ["Files", "CSV", "Codecs", "Log", "Schema", "JSONL", "Exec"],
                   dependencies: ["ConnectorKit", "CByteClasses", .product(name: "Logging", package: "swift-log")]),
        connectors("PostgresConnector", folders: ["Postgres", "PostgresPartitions", "PostgresBackup"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "CLibPQ", .product(name: "Logging", package: "swift-log")],
                   documents: ["Postgres/Cluster/README.md"]),
        connectors("SMBConnector", folders: ["SMB"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "CSMBClient", .product(name: "Logging", package: "swift-log")]),
        connectors("SFTPConnector", folders: ["SFTP"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "CLibSSH2", .product(name: "Logging", package: "swift-log")]),
        connectors("MySQLConnector", folders: ["MySQL"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "CMariaDB", .product(name: "Logging", package: "swift-log")]),
        connectors("ParquetConnector", folders: ["Parquet"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "Parquet", .product(name: "Logging", package: "swift-log")]),
        connectors("PostgresArchiveConnector", folders: ["PostgresArchive"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "PostgresConnector", "ParquetConnector", "Parquet",
                                  .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")]),
        // The built-in bundle: every connector above and the registry listing them.
        connectors("Connectors", folders: ["BuiltinPlugins.swift"],
                   dependencies: ["ConnectorKit", "CoreConnectors", "PostgresConnector", "MySQLConnector", "SMBConnector", "SFTPConnector", "ParquetConnector",
                                  "PostgresArchiveConnector"]),
        // Pipeline files (TOML) → validated pipeline specifications.
        .target(
            name: "PipelineLoader",
            dependencies: ["ConnectorKit", "CoreConnectors", "TOMLKit"]
        ),
        // The daemon's logic: the scheduler (intervals, cron, `after`), run status, backoff.
        .target(
            name: "SluiceRuntime",
            dependencies: ["ConnectorKit", "PipelineLoader", .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        // The daemon's HTTP side: /metrics (swift-prometheus), /health, /ready, the JSON API and
        // the status page (Hummingbird).
        .target(
            name: "SluiceServer",
            dependencies: ["SluiceRuntime", "ConnectorKit", .product(name: "Logging", package: "swift-log"),
                           .product(name: "CoreMetrics", package: "swift-metrics"),
                           .product(name: "Prometheus", package: "swift-prometheus"),
                           .product(name: "Hummingbird", package: "hummingbird")],
            exclude: ["README.md"]
        ),
        // Deterministic machine-log simulator used by the demo, tests and benchmarks.
        .target(name: "MachineSimulator"),
        // glibc's mallopt, which Swift cannot import (see Runner/Sluice.swift).
        .target(name: "CSystemTuning"),
        // The command line and the daemon as a library: `SluiceCLI.main(plugins:)` builds a
        // `sluice` with a package's own plugins added to the built-ins.
        .target(
            name: "SluiceCLI",
            dependencies: [
                "ConnectorKit", "Connectors", "PipelineLoader", "SluiceRuntime", "SluiceServer", "MachineSimulator", "CSystemTuning", "Parquet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The `sluice` executable: SluiceCLI with the built-in plugins.
        .executableTarget(name: "Runner", dependencies: ["SluiceCLI"]),
        .executableTarget(
            name: "Bench",
            dependencies: ["ConnectorKit", "Connectors", "MachineSimulator"]
        ),
        // Test support: the TCP fault proxy, and the child process the sink conformance kills.
        .target(name: "TestSupport", dependencies: ["ConnectorKit"], path: "Tests/TestSupport"),
        .executableTarget(
            name: "SinkConformanceChild",
            dependencies: ["ConnectorKit", "ConnectorKitTesting", "Connectors", .product(name: "Logging", package: "swift-log")],
            path: "Tests/SinkConformanceChild"
        ),
        .testTarget(name: "ConnectorKitTests", dependencies: ["ConnectorKit", "ConnectorKitTesting", "TestSupport",
                                                             .product(name: "MetricsTestKit", package: "swift-metrics")]),
        .testTarget(
            name: "ConnectorsTests",
            dependencies: ["ConnectorKit", "ConnectorKitTesting", "Connectors", "PipelineLoader", "MachineSimulator", "TestSupport", "SinkConformanceChild", "Parquet"]
        ),
        .testTarget(
            name: "ParquetTests",
            dependencies: ["Parquet", "CompressionCodecs", "ConnectorKit", "MachineSimulator", "TestSupport"],
            exclude: ["Readers"]
        ),
        .testTarget(name: "SluiceRuntimeTests", dependencies: ["SluiceRuntime", "SluiceServer", "ConnectorKit", "PipelineLoader", "TestSupport", "PostgresConnector"]),
        .testTarget(
            name: "RunnerTests",
            dependencies: ["MachineSimulator", "Runner", "TestSupport", "Parquet", "ConnectorKit", "SluiceServer"]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictSettings
}
