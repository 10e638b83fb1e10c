// swift-tools-version: 6.2
import PackageDescription

/// Lifeboat: a disaster-recovery and backup orchestrator.
///
/// Each C library is wrapped by one system-library target and imported (with `internal import`) by exactly one
/// Lifeboat module, so no C type reaches a public API: libpq by `Postgres`, libzstd by `Repository`, libcrypto by
/// `LifeboatCrypto`, libcurl by `LifeboatHTTP`. `LifeboatCore` (errors, formatting, environment variables) depends
/// on nothing; every other module depends on it. ARCHITECTURE.md draws the whole graph.
let package = Package(
    name: "Lifeboat",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lifeboat", targets: ["lifeboat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLinux"),

        // MARK: - Foundations
        .target(name: "LifeboatCore"),
        .target(name: "LifeboatCrypto", dependencies: ["CLibCrypto"]),

        // MARK: - Domain modules
        .target(name: "Plans", dependencies: ["LifeboatCore", .product(name: "Yams", package: "Yams")]),
        .target(name: "LifeboatHTTP", dependencies: ["LifeboatCore", "CCurl"]),
        .target(name: "Repository", dependencies: ["LifeboatCore", "LifeboatCrypto", "CZstd", "CLinux", "LifeboatHTTP"]),
        .target(name: "Postgres", dependencies: ["LifeboatCore", "CLibPQ", "Repository"]),
        .target(
            name: "Notify",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "LifeboatHTTP", .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .target(
            name: "Mirrors",
            dependencies: [
                "LifeboatCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),

        // MARK: - Orchestration and command line
        .target(
            name: "Engine",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "Plans", "Postgres", "Repository", "Mirrors", "Notify", "LifeboatHTTP",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "lifeboat",
            dependencies: [
                "LifeboatCore", "LifeboatCrypto", "Engine", "Plans", "Repository", "Postgres", "Mirrors", "Notify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),

        // MARK: - Tests
        .target(name: "TestSupport", dependencies: ["LifeboatCore", "LifeboatCrypto", "Postgres"]),
        .testTarget(name: "LifeboatCoreTests", dependencies: ["LifeboatCore"]),
        .testTarget(name: "PlansTests", dependencies: ["LifeboatCore", "Plans"]),
        .testTarget(name: "EngineTests", dependencies: ["LifeboatCore", "Engine", "Plans", "TestSupport"]),
        .testTarget(name: "PostgresTests", dependencies: ["LifeboatCore", "Postgres", "TestSupport"]),
        .testTarget(name: "RepositoryTests", dependencies: ["LifeboatCore", "LifeboatCrypto", "Repository", "TestSupport"]),
        .testTarget(name: "MirrorsTests", dependencies: ["LifeboatCore", "Mirrors", "TestSupport"]),
        .testTarget(name: "NotifyTests", dependencies: ["LifeboatCrypto", "Notify", "Repository", "TestSupport"]),
        .testTarget(name: "LifeboatHTTPTests", dependencies: ["LifeboatHTTP", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["LifeboatCore", "LifeboatCrypto", "TestSupport", "lifeboat", "Repository"]),
    ],
    swiftLanguageModes: [.v6]
)
