// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rinha-swift",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "rinha-api", targets: ["rinha-api"]),
        .executable(name: "rinha-worker", targets: ["rinha-worker"]),
        .executable(name: "rinha-gateway", targets: ["rinha-gateway"]),
        .executable(name: "processor-simulator", targets: ["processor-simulator"]),
        .executable(name: "rinha-probe", targets: ["rinha-probe"]),
        .executable(name: "rinha-loadgen", targets: ["rinha-loadgen"]),
        .executable(name: "processor-client-bench", targets: ["processor-client-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // Domain: money, timestamps, payment validation, summaries. No NIO, no C.
        .target(name: "PaymentCore"),
        // RESP over a NIO channel, with hiredis's reply reader.
        .target(
            name: "ValkeyClient",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The queue, the attempts, the booked payments and the shared health, as Valkey scripts.
        .target(
            name: "PaymentStore",
            dependencies: [
                "PaymentCore", "ValkeyClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Shared bits of the NIO HTTP/1.1 servers (API and simulator): binding, responses.
        .target(
            name: "HTTPServerKit",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "API",
            dependencies: [
                "PaymentCore", "PaymentStore", "HTTPServerKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Worker",
            dependencies: [
                "PaymentCore", "PaymentStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Gateway",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ProcessorSimulator",
            dependencies: [
                "PaymentCore", "HTTPServerKit",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Start-up shared by the executables: environment and logging.
        .target(name: "ProcessSupport", dependencies: [.product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "rinha-api",
            dependencies: [
                "API", "PaymentStore", "ProcessSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "rinha-worker",
            dependencies: [
                "Worker", "PaymentStore", "ProcessSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "rinha-gateway",
            dependencies: [
                "Gateway", "ProcessSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "processor-simulator",
            dependencies: [
                "ProcessorSimulator", "ProcessSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // A libc-only HTTP health probe for the containers' health checks.
        .executableTarget(name: "rinha-probe"),
        // Open-loop HTTP load over TCP or Unix sockets, for the benchmarks (k6 speaks TCP only).
        .executableTarget(
            name: "rinha-loadgen",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The worker's processor client against AsyncHTTPClient (the baseline), side by side.
        .executableTarget(
            name: "processor-client-bench",
            dependencies: [
                "Worker", "ProcessorSimulator", "PaymentCore", "PaymentStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PaymentCoreTests", dependencies: ["PaymentCore", "TestSupport"]),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "PaymentCore", "PaymentStore", "ProcessorSimulator", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // RESP, the client and the test Valkey server; nothing of the payments.
        .testTarget(
            name: "ValkeyClientTests",
            dependencies: [
                "ValkeyClient", "TestSupport",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // The Valkey functions of the payment lifecycle, against a real valkey-server.
        .testTarget(
            name: "PaymentStoreTests",
            dependencies: ["PaymentStore", "PaymentCore", "ValkeyClient", "TestSupport"]
        ),
        .testTarget(
            name: "ProcessorSimulatorTests",
            dependencies: [
                "ProcessorSimulator", "PaymentCore", "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        // The API's routes over a real socket, against a real valkey-server.
        .testTarget(
            name: "APITests",
            dependencies: [
                "API", "HTTPServerKit", "PaymentStore", "PaymentCore", "ValkeyClient", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PaymentPathTests",
            dependencies: [
                "API", "Worker", "PaymentStore", "PaymentCore", "ProcessorSimulator", "TestSupport", "ValkeyClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What the suites share: a real valkey-server, a raw HTTP/1.1 client, a scriptable HTTP
        // server, a seeded generator, waiting helpers.
        .target(
            name: "TestSupport",
            dependencies: [
                "ValkeyClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
    ],
    swiftLanguageModes: [.v6]
)
