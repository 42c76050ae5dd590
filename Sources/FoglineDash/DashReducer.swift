public import FoglineWire

/// What a key asks the shell to do besides changing the state.
public enum DashEffect: Equatable, Sendable {
    /// Restore the terminal and exit.
    case quit
    /// Fetch now instead of at the next tick (also after a view opened).
    case refresh
    /// `PUT /v1/sites/{site}/devices/{device}/desired` with `{"fields": fields}`.
    case putDesired(site: String, device: String, fields: JSONValue)
}

extension DashState {
    /// The reducer: applies one key and says what else to do. Pure (the shell performs effects).
    ///
    /// Normal mode: arrows or `j`/`k` move, PgUp/PgDn and `g`/`G` jump, Enter drills in, Esc (or
    /// Left/`h`) goes back, `/` filters, `s` cycles the sort, `e` edits a desired field of the
    /// selected device, `a` opens the site's audit pane, `r` refreshes now, `?` toggles help,
    /// `q` or Ctrl-C quits.
    public mutating func handle(_ key: DashKey) -> [DashEffect] {
        if key == .interrupt { return [.quit] }
        switch input {
        case .filter(let previous): return handleFilter(key, previous: previous)
        case .edit(let site, let device, let text): return handleEdit(key, site: site, device: device, text: text)
        case .normal: break
        }
        if showHelp {
            showHelp = false
            return key == .character("q") ? [.quit] : []
        }
        switch key {
        case .character("q"): return [.quit]
        case .character("?"): showHelp = true
        case .up, .character("k"): move(by: -1)
        case .down, .character("j"): move(by: 1)
        case .pageUp: move(by: -10)
        case .pageDown: move(by: 10)
        case .home, .character("g"): move(by: Int.min / 2)
        case .end, .character("G"): move(by: Int.max / 2)
        case .enter, .right, .character("l"): return drillIn()
        case .escape, .left, .character("h"): return goBack()
        case .character("/"):
            switch view {
            case .sites: input = .filter(previous: siteFilter)
            case .site: input = .filter(previous: deviceFilter)
            default: post("/ filters the sites table and a site's devices", isError: true)
            }
        case .character("s"): cycleSort()
        case .character("e"): startEdit()
        case .character("a"):
            if case .site(let site) = view {
                views.append(.audit(site))
                audit = nil
                auditScroll = 0
                return [.refresh]
            }
        case .character("r"): return [.refresh]
        default: break
        }
        return []
    }

    // MARK: Normal mode

    private mutating func move(by delta: Int) {
        func step(_ ids: [String], _ current: Int?) -> String? {
            guard !ids.isEmpty else { return nil }
            let index = min(max(0, (current ?? 0) + delta), ids.count - 1)
            return ids[index]
        }
        switch view {
        case .sites: selectedSite = step(visibleSites.map(\.name), siteCursor)
        case .site: selectedDevice = step(visibleDevices.map(\.id), deviceCursor)
        case .device: selectedField = step(visibleTwin.map(\.name), fieldCursor)
        case .audit: auditScroll = min(max(0, auditScroll + delta), max(0, (audit ?? []).reduce(0) { $0 + $1.entries.count + 2 } - 1))
        }
    }

    private mutating func drillIn() -> [DashEffect] {
        switch view {
        case .sites:
            guard let index = siteCursor else { return [] }
            let name = visibleSites[index].name
            selectedSite = name
            if site?.name != name {
                site = nil
                devices = []
                selectedDevice = nil
            }
            deviceFilter = ""
            views.append(.site(name))
            return [.refresh]
        case .site(let name):
            guard let index = deviceCursor else { return [] }
            let id = visibleDevices[index].id
            selectedDevice = id
            if device?.id != id { device = nil }
            selectedField = nil
            views.append(.device(site: name, device: id))
            return [.refresh]
        case .device, .audit:
            return []
        }
    }

    private mutating func goBack() -> [DashEffect] {
        guard views.count > 1 else {
            if !siteFilter.isEmpty { siteFilter = "" }
            return []
        }
        views.removeLast()
        return [.refresh]
    }

    private mutating func cycleSort() {
        switch view {
        case .sites:
            let all = SiteSort.allCases
            siteSort = all[(all.firstIndex(of: siteSort)! + 1) % all.count]
            post("sites sorted by \(siteSort.rawValue)")
        case .site:
            let all = DeviceSort.allCases
            deviceSort = all[(all.firstIndex(of: deviceSort)! + 1) % all.count]
            post("devices sorted by \(deviceSort.rawValue)")
        default:
            post("s sorts the sites table and a site's devices", isError: true)
        }
    }

    private mutating func startEdit() {
        switch view {
        case .site(let site):
            guard let index = deviceCursor else { return post("no device selected to edit", isError: true) }
            let device = visibleDevices[index]
            let field = device.twin.first(where: \.isPending)?.name ?? device.desired.first?.name
            input = .edit(site: site, device: device.id, text: field.map { "\($0)=" } ?? "")
        case .device(let site, let id):
            let field = fieldCursor.map { visibleTwin[$0].name }
            input = .edit(site: site, device: id, text: field.map { "\($0)=" } ?? "")
        default:
            post("e edits a device's desired state: open a site and select a device", isError: true)
        }
    }

    // MARK: Filter mode

    private mutating func handleFilter(_ key: DashKey, previous: String) -> [DashEffect] {
        func update(_ change: (inout String) -> Void) {
            if case .sites = view { change(&siteFilter) } else { change(&deviceFilter) }
        }
        switch key {
        case .enter: input = .normal
        case .escape:
            update { $0 = previous }
            input = .normal
        case .backspace: update { if !$0.isEmpty { $0.removeLast() } }
        case .character(let character): update { $0.append(character) }
        default: break
        }
        return []
    }

    // MARK: Edit mode

    private mutating func handleEdit(_ key: DashKey, site: String, device: String, text: String) -> [DashEffect] {
        switch key {
        case .escape:
            input = .normal
        case .backspace:
            input = .edit(site: site, device: device, text: String(text.dropLast()))
        case .character(let character):
            input = .edit(site: site, device: device, text: text + String(character))
        case .enter:
            switch Self.parseAssignment(text) {
            case .success(let (name, value)):
                input = .normal
                post("sending \(device) desired \(name)=\(value.serializedString())…", seconds: 10)
                return [.putDesired(site: site, device: device, fields: .object([(key: name, value: value)]))]
            case .failure(let error):
                post(error.description, isError: true, seconds: 6)
            }
        default: break
        }
        return []
    }

    /// Reads `field=value`: the value is JSON when it parses as a JSON scalar (`22`, `true`,
    /// `null`, `"heat"`), else the text itself (so `mode=heat` sets the string `heat`).
    public static func parseAssignment(_ text: String) -> Result<(String, JSONValue), DashDataError> {
        guard let equals = text.firstIndex(of: "=") else {
            return .failure(DashDataError("type FIELD=VALUE, e.g. setpoint=22 (Esc cancels)"))
        }
        let name = text[..<equals].trimmingCharacters(in: " ")
        let rawValue = text[text.index(after: equals)...].trimmingCharacters(in: " ")
        // The API's rule for field names (a device may name a field `pump.speed` or `温度`).
        guard PayloadName.isValid(name) else {
            return .failure(DashDataError("`\(name)` is not a field name: give 1 to \(PayloadName.maxBytes) bytes before `=` (e.g. setpoint=22)"))
        }
        guard !rawValue.isEmpty else { return .failure(DashDataError("no value after `\(name)=`: type one, e.g. \(name)=22")) }
        if let json = try? StrictJSON.parse(rawValue) {
            switch json {
            case .array, .object: return .failure(DashDataError("desired values are scalars (number, string, true/false, null)"))
            default: return .success((name, json))
            }
        }
        return .success((name, .string(rawValue)))
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
