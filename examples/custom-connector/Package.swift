// swift-tools-version:6.1
import PackageDescription

// A plant's own Sluice: the built-in connectors plus a Modbus/TCP source and a limits transform.
// Sluice comes from the checkout two folders up; a plant outside this repository would depend on
// its Git URL instead.
let package = Package(
    name: "PlantSluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "plant-sluice", targets: ["plant-sluice"]),
        .executable(name: "modbus-poll", targets: ["modbus-poll"]),
        .library(name: "PlantPlugins", targets: ["PlantPlugins"]),
    ],
    dependencies: [
        .package(name: "Sluice", path: "../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The plugins: only ConnectorKit, the plugin API. No C library, no server client.
        .target(
            name: "PlantPlugins",
            dependencies: [.product(name: "ConnectorKit", package: "Sluice"), .product(name: "Logging", package: "swift-log")]
        ),
        // `sluice` with every built-in plugin plus these.
        .executableTarget(
            name: "plant-sluice",
            dependencies: ["PlantPlugins", .product(name: "SluiceCLI", package: "Sluice")]
        ),
        // A commissioning tool: polls a PLC once and prints JSON lines. Built on the file-free part
        // of Sluice only, it links none of libpq, libsmbclient or libssh2 (test.sh checks).
        .executableTarget(
            name: "modbus-poll",
            dependencies: ["PlantPlugins", .product(name: "ConnectorKit", package: "Sluice"), .product(name: "CoreConnectors", package: "Sluice"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PlantPluginsTests",
            dependencies: ["PlantPlugins", .product(name: "ConnectorKit", package: "Sluice"), .product(name: "ConnectorKitTesting", package: "Sluice"),
                           .product(name: "PipelineLoader", package: "Sluice"), .product(name: "Connectors", package: "Sluice")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
