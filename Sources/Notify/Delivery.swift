import Foundation
import LifeboatHTTP
import Synchronization

/// How one message to one channel went.
public struct DeliveryOutcome: Sendable, Codable {
    public var channel: String
    public var event: String
    public var delivered: Bool
    public var attempts: Int
    public var httpStatus: Int?
    public var error: String?
    public var seconds: Double

    public init(channel: String, event: String, delivered: Bool, attempts: Int, httpStatus: Int?, error: String?,
                seconds: Double) {
        self.channel = channel
        self.event = event
        self.delivered = delivered
        self.attempts = attempts
        self.httpStatus = httpStatus
        self.error = error
        self.seconds = seconds
    }
}

/// Sends messages with retries: exponential backoff (±20 % jitter) on connection errors, timeouts, HTTP 429 and 5xx,
/// honouring `Retry-After` (up to `maximumWait`); other HTTP errors are final. At most one message at a time per
/// channel, and at least the channel's `minimumInterval` apart. Blocking: call it from a thread of its own.
public final class Deliverer: Sendable {
    public let attempts: Int
    public let firstBackoff: TimeInterval
    public let maximumWait: TimeInterval
    private let lastSent = Mutex<[String: Date]>([:])
    private let channelLocks = Mutex<[String: NSLock]>([:])

    public init(attempts: Int = 4, firstBackoff: TimeInterval = 1, maximumWait: TimeInterval = 60) {
        self.attempts = max(1, attempts)
        self.firstBackoff = firstBackoff
        self.maximumWait = maximumWait
    }

    /// Sends `event` to `channel`. `pagerDutyAction` (`trigger`, `resolve`) makes PagerDuty open or close an incident;
    /// without it PagerDuty gets a change event.
    public func deliver(_ event: NotificationEvent, to channel: Channel, pagerDutyAction: String? = nil,
                        shouldStop: @Sendable () -> Bool = { false }) -> DeliveryOutcome {
        let started = Date()
        var outcome = DeliveryOutcome(channel: channel.name, event: event.kind.rawValue, delivered: false, attempts: 0,
                                      httpStatus: nil, error: nil, seconds: 0)
        let payload: Payload
        do {
            payload = try Payload.build(event, for: channel, pagerDutyAction: pagerDutyAction)
        } catch {
            outcome.error = "cannot build the message: \(error)"
            return outcome
        }
        let lock = channelLocks.withLock { locks in
            if let lock = locks[channel.name] { return lock }
            let lock = NSLock()
            locks[channel.name] = lock
            return lock
        }
        lock.lock()
        defer { lock.unlock() }
        var wait: TimeInterval = 0
        while outcome.attempts < attempts && !shouldStop() {
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            if let last = lastSent.withLock({ $0[channel.name] }) {
                let gap = channel.minimumInterval - Date().timeIntervalSince(last)
                if gap > 0 { Thread.sleep(forTimeInterval: gap) }
            }
            outcome.attempts += 1
            lastSent.withLock { $0[channel.name] = Date() }
            let backoff = firstBackoff * pow(2, Double(outcome.attempts - 1)) * Double.random(in: 0.8...1.2)
            do {
                switch payload {
                case .http(let request):
                    let response = try HTTPClient.send(request)
                    outcome.httpStatus = response.status
                    if (200..<300).contains(response.status) {
                        outcome.delivered = true
                        outcome.error = nil
                        outcome.seconds = Date().timeIntervalSince(started)
                        return outcome
                    }
                    outcome.error = "HTTP \(response.status)" + (response.text.isEmpty ? "" : ": " + String(response.text.prefix(200)))
                    guard response.status == 429 || response.status >= 500 else {
                        outcome.seconds = Date().timeIntervalSince(started)
                        return outcome
                    }
                    if let retryAfter = response.headers["retry-after"].flatMap(TimeInterval.init) {
                        wait = min(max(0, retryAfter), maximumWait)
                    } else {
                        wait = min(backoff, maximumWait)
                    }
                case .email(let message):
                    try SMTPClient.send(message)
                    outcome.delivered = true
                    outcome.error = nil
                    outcome.seconds = Date().timeIntervalSince(started)
                    return outcome
                }
            } catch {
                outcome.error = error.description
                wait = min(backoff, maximumWait)
            }
        }
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }
}
