import Engine
import Hummingbird
import Logging

/// The daemon's HTTP endpoint: `GET /metrics` (Prometheus text format) and `GET /healthz`.
enum MetricsEndpoint {
    static func application(metrics: DaemonMetrics, host: String, port: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.text)))
        }
        router.get("healthz") { _, _ -> String in "ok\n" }
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "lifeboat"),
                           logger: logger)
    }
}
