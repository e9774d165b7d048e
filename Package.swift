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
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        // hiredis's C API (only its reply reader is used), linked statically in the image.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // The wire's small text formats: a strict JSON scanner over bytes, query strings.
        .target(name: "TextFormats"),
        // Domain: money, timestamps and the clock, payment validation, time windows, summaries.
        // No NIO, no C.
        .target(name: "PaymentCore", dependencies: ["TextFormats"]),
        // The one address type (`unix:/path` or `host:port`) every flag and client uses. No NIO.
        .target(name: "NetworkEndpoint"),
        // RESP over a NIO channel: commands encoded in Swift, replies parsed by hiredis's reader.
        .target(
            name: "ValkeyClient",
            dependencies: [
                "CHiredis", "NetworkEndpoint",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The payment's lifecycle in Valkey (one function library) and the calls on it, by side.
        .target(
            name: "PaymentStore",
            dependencies: [
                "PaymentCore", "ValkeyClient",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // HTTP/1.1 on the wire, by hand: strict head parsing and request framing over bytes, shared
        // by the gateway (which forwards what it framed) and the API's server.
        .target(
            name: "HTTPWire",
            dependencies: [
                "TextFormats",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Handing a client connection from the gateway to an API over a Unix socket (SCM_RIGHTS):
        // the socket calls, in C for the CMSG_* macros, and both ends of the link.
        .target(name: "CConnectionHandoff"),
        .target(
            name: "ConnectionHandoff",
            dependencies: [
                "CConnectionHandoff",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The HTTP/1.1 servers' shared parts: the API's lean server (HTTPWire's framing, answers
        // written as bytes), the binding and quiescing the gateway uses too, and the request and
        // response types the simulator shares.
        .target(
            name: "HTTPServerKit",
            dependencies: [
                "NetworkEndpoint", "HTTPWire", "TextFormats", "ConnectionHandoff",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The API process: validates payments into the store, answers summaries and purges.
        .target(
            name: "API",
            dependencies: [
                "PaymentCore", "PaymentStore", "HTTPServerKit", "NetworkEndpoint",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A worker process: claims payments, routes them to a processor, books what was accepted,
        // keeps its liveness, and (as leader) polls the processors' health.
        .target(
            name: "Worker",
            dependencies: [
                "PaymentCore", "PaymentStore", "NetworkEndpoint", "TextFormats",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The load balancer in front of the APIs: framing, strategies, upstream pools, ejection.
        .target(
            name: "Gateway",
            dependencies: [
                "NetworkEndpoint", "HTTPServerKit", "HTTPWire", "TextFormats", "ConnectionHandoff",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // A faithful Payment Processor for local stacks and tests (every endpoint and limit).
        .target(
            name: "ProcessorSimulator",
            dependencies: [
                "PaymentCore", "HTTPServerKit", "TextFormats",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Start-up shared by the executables: options from the environment, addresses, logging,
        // running until a signal.
        .target(
            name: "ProcessSupport",
            dependencies: [
                "NetworkEndpoint",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "rinha-api",
            dependencies: [
                "API", "PaymentStore", "ProcessSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "rinha-worker",
            dependencies: [
                "Worker", "PaymentStore", "ProcessSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
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
        .executableTarget(name: "rinha-probe", dependencies: ["NetworkEndpoint"]),
        // Open-loop HTTP load over TCP or Unix sockets, for the benchmarks (k6 speaks TCP only).
        .executableTarget(
            name: "rinha-loadgen",
            dependencies: [
                "NetworkEndpoint", "TextFormats",
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
        .testTarget(name: "PaymentCoreTests", dependencies: ["PaymentCore", "TextFormats", "TestSupport"]),
        .testTarget(name: "TextFormatsTests", dependencies: ["TextFormats"]),
        .testTarget(name: "NetworkEndpointTests", dependencies: ["NetworkEndpoint"]),
        .testTarget(
            name: "WorkerTests",
            dependencies: [
                "Worker", "PaymentCore", "TextFormats", "PaymentStore", "ProcessorSimulator", "TestSupport",
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
        .testTarget(name: "HTTPWireTests", dependencies: ["HTTPWire", "TestSupport"]),
        .testTarget(
            name: "ConnectionHandoffTests",
            dependencies: [
                "ConnectionHandoff", "TestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HTTPServerKitTests",
            dependencies: [
                "HTTPServerKit", "NetworkEndpoint", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "HTTPWire", "NetworkEndpoint", "TextFormats", "TestSupport", "HTTPServerKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
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
                "API", "HTTPServerKit", "NetworkEndpoint", "PaymentStore", "PaymentCore", "ValkeyClient", "TestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PaymentPathTests",
            dependencies: [
                "API", "Worker", "PaymentStore", "PaymentCore", "TextFormats", "ProcessorSimulator", "TestSupport",
                "ValkeyClient",
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
                "ValkeyClient", "Gateway",
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
