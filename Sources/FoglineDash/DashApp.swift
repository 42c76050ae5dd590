import FoglineWire
import Foundation
import Synchronization

/// How `fogline-cloud dash` runs.
public struct DashOptions: Sendable {
    /// The aggregator, `http://HOST:PORT`.
    public var url: String
    /// Time between refreshes.
    public var intervalMilliseconds: Int
    /// Draw with ASCII instead of Unicode box drawing and blocks.
    public var ascii: Bool
    /// Write colours (`false` under `NO_COLOR`).
    public var colour: Bool
    /// The site (and device) to open at start.
    public var site: String?
    public var device: String?
    /// Open the site's audit pane at start.
    public var audit: Bool
    /// The aggregator's API token (`--token-file` or `FOGLINE_API_TOKEN`), nil when it has none.
    public var token: String?

    public init(
        url: String, intervalMilliseconds: Int = 250, ascii: Bool = false, colour: Bool = true, site: String? = nil,
        device: String? = nil, audit: Bool = false, token: String? = nil
    ) {
        self.url = url
        self.intervalMilliseconds = intervalMilliseconds
        self.ascii = ascii
        self.colour = colour
        self.site = site
        self.device = device
        self.audit = audit
        self.token = token
    }

    /// The state the dashboard starts in: the views `site`, `device` and `audit` open.
    func initialState(aggregator: String, nowMs: UInt64) -> DashState {
        var state = DashState(aggregator: aggregator, nowMs: nowMs)
        state.glyphs = ascii ? .ascii : .unicode
        if let site {
            state.selectedSite = site
            state.views.append(.site(site))
            if let device {
                state.selectedDevice = device
                state.views.append(.device(site: site, device: device))
            } else if audit {
                state.views.append(.audit(site))
            }
        }
        return state
    }
}

/// The dashboard's shell: fetches on a thread of its own, reads keys and draws on the calling
/// thread. Everything it shows comes from ``DashState``, ``DashState/handle(_:)`` and
/// ``render(_:size:)``; this only moves bytes.
public enum DashApp {
    /// Wall time, Unix milliseconds.
    static func wallMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000) }

    /// The size of the terminal on stdout, if it is one.
    public static var terminalSize: TerminalSize? { Terminal.outputSize }

    /// Fetches once and returns the frame as plain text (`--once`). The frame shows the banner
    /// when the aggregator did not answer; `reachable` says whether it did.
    public static func once(_ options: DashOptions, size: TerminalSize) throws(DashDataError) -> (text: String, reachable: Bool) {
        let client = try DashClient(url: options.url, token: options.token)
        var state = options.initialState(aggregator: client.url, nowMs: wallMilliseconds())
        var rate = MessageRate()
        do {
            state.apply(try client.fetch(state.fetchPlan, atMs: wallMilliseconds(), rate: &rate))
        } catch {
            state.applyFailure(error.description, atMs: wallMilliseconds())
        }
        return (render(state, size: size).text, state.connection == .connected)
    }

    /// Runs the interactive dashboard until `q`, Ctrl-C or a signal.
    public static func run(_ options: DashOptions) throws(DashDataError) {
        let client = try DashClient(url: options.url, token: options.token)
        let terminal = try Terminal()
        defer { terminal.close() }
        let fetcher = Fetcher(client: client, intervalMilliseconds: options.intervalMilliseconds, wake: terminal.waker)
        var state = options.initialState(aggregator: client.url, nowMs: wallMilliseconds())
        fetcher.start(plan: state.fetchPlan)
        defer { fetcher.stop() }
        var writer = FrameWriter(colour: options.colour)
        let decoder = KeyDecoder()
        // Redraw at least as often as the data refreshes, so the clock and ages move.
        let tick = Int32(max(50, min(options.intervalMilliseconds, 1_000)))
        while true {
            let input = terminal.wait(timeoutMilliseconds: tick)
            if terminal.takeResize() { writer.invalidate() }
            state.nowMs = wallMilliseconds()
            for key in decoder.decode(input) {
                for effect in state.handle(key) {
                    switch effect {
                    case .quit:
                        return
                    case .refresh:
                        fetcher.refresh(plan: state.fetchPlan)
                    case .putDesired(let site, let device, let fields):
                        fetcher.write(site: site, device: device, fields: fields, plan: state.fetchPlan)
                    }
                }
            }
            fetcher.update(plan: state.fetchPlan)
            for event in fetcher.takeEvents() {
                switch event {
                case .snapshot(let snapshot): state.apply(snapshot)
                case .failure(let reason, let at): state.applyFailure(reason, atMs: at)
                case .written(let text): state.post(text)
                case .writeFailed(let text): state.post(text, isError: true, seconds: 8)
                }
            }
            state.nowMs = wallMilliseconds()
            terminal.send(writer.update(to: render(state, size: terminal.size)))
        }
    }
}

/// The fetch thread: refreshes every interval (or at once when asked), performs desired writes,
/// and hands results to the drawing thread through a locked mailbox.
final class Fetcher: Sendable {
    enum Event: Sendable {
        case snapshot(DashSnapshot)
        case failure(String, atMs: UInt64)
        case written(String)
        case writeFailed(String)
    }

    private struct Shared {
        var plan = FetchPlan()
        var refreshNow = false
        var writes: [(site: String, device: String, fields: JSONValue)] = []
        var events: [Event] = []
        var stopped = false
    }

    private let client: DashClient
    private let intervalMilliseconds: Int
    private let wake: @Sendable () -> Void
    private let shared = Mutex(Shared())
    private let condition = NSCondition()

    init(client: DashClient, intervalMilliseconds: Int, wake: @escaping @Sendable () -> Void) {
        self.client = client
        self.intervalMilliseconds = max(50, intervalMilliseconds)
        self.wake = wake
    }

    func start(plan: FetchPlan) {
        shared.withLock { $0.plan = plan }
        let thread = Thread { [self] in loop() }
        thread.name = "fogline-dash-fetch"
        thread.start()
    }

    func stop() {
        shared.withLock { $0.stopped = true }
        signal()
    }

    /// The views changed: later refreshes fetch for `plan`.
    func update(plan: FetchPlan) {
        shared.withLock { $0.plan = plan }
    }

    /// Refresh now rather than at the next tick.
    func refresh(plan: FetchPlan) {
        shared.withLock {
            $0.plan = plan
            $0.refreshNow = true
        }
        signal()
    }

    func write(site: String, device: String, fields: JSONValue, plan: FetchPlan) {
        shared.withLock {
            $0.writes.append((site, device, fields))
            $0.plan = plan
        }
        signal()
    }

    func takeEvents() -> [Event] {
        shared.withLock { shared in
            defer { shared.events.removeAll() }
            return shared.events
        }
    }

    private func signal() {
        condition.lock()
        condition.signal()
        condition.unlock()
    }

    private func post(_ event: Event) {
        shared.withLock { $0.events.append(event) }
        wake()
    }

    private func loop() {
        var rate = MessageRate()
        while true {
            let (stopped, writes, plan) = shared.withLock { shared in
                defer { shared.writes.removeAll(); shared.refreshNow = false }
                return (shared.stopped, shared.writes, shared.plan)
            }
            if stopped { return }
            for write in writes {
                do {
                    let desired = try client.putDesired(site: write.site, device: write.device, fields: write.fields)
                    post(.written("desired of \(write.device) is now \(desired.serializedString())"))
                } catch {
                    post(.writeFailed("write to \(write.device) failed: \(error.description)"))
                }
            }
            do {
                post(.snapshot(try client.fetch(plan, atMs: DashApp.wallMilliseconds(), rate: &rate)))
            } catch {
                post(.failure(error.description, atMs: DashApp.wallMilliseconds()))
            }
            condition.lock()
            let pending = shared.withLock { $0.refreshNow || !$0.writes.isEmpty || $0.stopped }
            if !pending { _ = condition.wait(until: Date().addingTimeInterval(Double(intervalMilliseconds) / 1_000)) }
            condition.unlock()
        }
    }
}
