public import FoglineWire

/// Reads the aggregator's HTTP API for the dashboard (blocking; the shell calls it from its own
/// fetch thread, never from Swift's cooperative pool).
public struct DashClient: Sendable {
    /// The aggregator as the header shows it (`http://HOST:PORT`).
    public let url: String
    let http: PlainHTTPClient

    /// API answers can be larger than a device payload (a site's device list).
    static let limits = JSONLimits(maxBytes: 64 << 20, maxDepth: 32)

    /// - Parameters:
    ///   - url: `http://HOST:PORT` (or `HOST:PORT`), as `--url` takes it.
    ///   - token: the aggregator's API token, sent as `Authorization: Bearer …` (nil: none).
    public init(url: String, token: String? = nil, timeoutSeconds: Int = 3) throws(DashDataError) {
        var address = Substring(url)
        if address.hasPrefix("https://") {
            throw DashDataError("\(url): the aggregator's API is plain HTTP; reach a remote one through an SSH tunnel (ssh -L 8480:127.0.0.1:8480 HOST) or a TLS-terminating proxy on this machine")
        }
        if address.hasPrefix("http://") { address = address.dropFirst(7) }
        while address.hasSuffix("/") { address = address.dropLast() }
        guard !address.contains("/") else {
            throw DashDataError("\(url): give the aggregator as http://HOST:PORT, without a path (e.g. http://127.0.0.1:8480)")
        }
        var client: PlainHTTPClient
        do { client = try PlainHTTPClient(address: String(address)) } catch {
            throw DashDataError("\(url) is not http://HOST:PORT (e.g. http://127.0.0.1:8480)")
        }
        client.timeoutSeconds = timeoutSeconds
        client.token = token
        http = client
        self.url = "http://\(address)"
    }

    /// One refresh: the sites and metrics, and what `plan` asks for.
    public func fetch(_ plan: FetchPlan, atMs now: UInt64, rate: inout MessageRate) throws(DashDataError) -> DashSnapshot {
        var snapshot = DashSnapshot(plan: plan, fetchedAtMs: now, sites: try DashJSON.sites(try json("/v1/sites")))
        if let total = DashJSON.syncFramesReceived(metrics: try text("/metrics")) {
            snapshot.messagesPerSecond = rate.add(total: total, atMs: now)
        }
        if let site = plan.site {
            let path = "/v1/sites/\(site)"
            snapshot.site = try DashJSON.site(try json(path))
            snapshot.devices = try DashJSON.devices(try json(path + "/devices"))
            if let device = plan.device { snapshot.device = try DashJSON.device(try json(path + "/devices/\(device)")) }
            if plan.audit { snapshot.audit = try DashJSON.audit(try json(path + "/audit")) }
        }
        return snapshot
    }

    /// `PUT /v1/sites/{site}/devices/{device}/desired`; returns the merged desired state.
    public func putDesired(site: String, device: String, fields: JSONValue) throws(DashDataError) -> JSONValue {
        let body = JSONValue.object([(key: "fields", value: fields)]).serialized()
        let response: PlainHTTPClient.Response
        do { response = try http.put("/v1/sites/\(site)/devices/\(device)/desired", jsonBody: body) } catch {
            throw DashDataError(error.description)
        }
        let answer = try? StrictJSON.parse(response.body, limits: Self.limits)
        guard response.status == 200, let answer else {
            throw DashDataError("the aggregator refused the write (\(response.status)): \(answer?["error"]?.stringValue ?? response.text)")
        }
        return answer["desired"] ?? .null
    }

    private func text(_ path: String) throws(DashDataError) -> String {
        let response: PlainHTTPClient.Response
        do { response = try http.get(path) } catch {
            throw DashDataError("\(error.description) Is `fogline-cloud serve` running at \(url)? Check --url.")
        }
        guard response.status == 200 else {
            let message = (try? StrictJSON.parse(response.body, limits: Self.limits))?["error"]?.stringValue ?? response.text
            throw DashDataError("GET \(path) answered \(response.status): \(message)")
        }
        return response.text
    }

    private func json(_ path: String) throws(DashDataError) -> JSONValue {
        let body = try text(path)
        do { return try StrictJSON.parse(body, limits: Self.limits) } catch {
            throw DashDataError("GET \(path) did not answer JSON (\(error))")
        }
    }
}
