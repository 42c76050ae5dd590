import FoglineCore
import FoglineWire

extension Simulation {
    /// A message that arrived on one of the device's subscriptions: `desired`, `cmd` or
    /// `replay` (see ``SimulatedDevice``'s profile for what the device does with each).
    ///
    /// - `desired` `{"fields":{…},"hlc":"…"}`: each field the profile accepts, with a value
    ///   of the field's type within the profile's limits, replaces the reported value; if
    ///   any did, the device publishes its `reported` fields again.
    /// - `cmd` `{"id":…,"name":…,"args":{…},"fence":N}`: a command whose fence is lower than
    ///   the highest fence the device has seen is acked `rejected`. Otherwise the fence
    ///   becomes the highest seen (an equal fence is accepted: one lease holder sends many
    ///   commands under the same token), and the device carries out the command (then
    ///   re-reports and acks `ok`), or acks `failed` for an unknown command or a bad argument.
    ///   A command that does not decode but has a readable `id` is acked `failed`.
    /// - `replay` `{"from":a,"to":b}`: the device re-sends the readings with those seqs that
    ///   are still in its buffer, with their original bytes, in seq order.
    /// - an edge node's status `fogline/v1/{site}/node/{node}/status` `{"state":"online",…}`
    ///   (subscribed when ``awaitEdgeMillis`` is above 0): a device waiting for an edge
    ///   publishes its birth now. Any other state, or a status once born, changes nothing.
    ///
    /// While a device waits for an edge, `cmd` and `replay` are answered as usual, and an
    /// accepted `desired` changes its fields without a `reported` of its own: the `reported`
    /// that follows the birth carries them.
    ///
    /// Messages for a device that is not connected, on other topics, or that do not decode
    /// are ignored and counted in ``DeviceStatistics/ignoredIncoming``.
    public mutating func handle(device index: Int, topic: String, payload: some Collection<UInt8>, now: Int64) -> [SimAction] {
        guard startedAt != nil, finishedAt == nil, devices.indices.contains(index) else { return [] }
        let now = advanceClock(to: now)
        if awaitEdgeMillis > 0, devices[index].connection.isConnected, Self.isNodeStatus(topic, site: site) {
            var actions: [SimAction] = []
            handleNodeStatus(payload, of: index, at: now, actions: &actions)
            return actions
        }
        guard devices[index].connection.isConnected, topic.hasPrefix(devices[index].topicPrefix) else {
            devices[index].statistics.ignoredIncoming += 1
            return []
        }
        var actions: [SimAction] = []
        switch FoglineTopic.DeviceChannel(rawValue: String(topic.dropFirst(devices[index].topicPrefix.count))) {
        case .desired?: applyDesired(payload, to: index, actions: &actions)
        case .cmd?: runCommand(payload, on: index, actions: &actions)
        case .replay?: answerReplay(payload, from: index, actions: &actions)
        default: devices[index].statistics.ignoredIncoming += 1
        }
        return actions
    }

    /// Whether `topic` is `fogline/v1/{site}/node/{node}/status`. The suffix test first keeps
    /// the full parse off the path of every `desired`, `cmd` and `replay`.
    private static func isNodeStatus(_ topic: String, site: String) -> Bool {
        guard topic.hasSuffix("/status"), case .nodeStatus? = try? FoglineTopic.parse(topic, expectedSite: site) else { return false }
        return true
    }

    /// A node's status: `online` ends the wait of a device waiting for an edge. An empty
    /// payload (a cleared retained status) is no status; an unreadable one is ignored.
    private mutating func handleNodeStatus(
        _ bytes: some Collection<UInt8>, of index: Int, at now: Int64, actions: inout [SimAction]
    ) {
        guard !bytes.isEmpty else { return }
        guard let status = try? NodeStatusPayload.decode(bytes) else {
            devices[index].statistics.ignoredIncoming += 1
            return
        }
        guard status.state == "online", case .awaitingEdge = devices[index].connection else { return }
        publishBirth(of: index, at: now, actions: &actions)
    }

    private mutating func applyDesired(_ bytes: some Collection<UInt8>, to index: Int, actions: inout [SimAction]) {
        guard let desired = try? DesiredPayload.decode(bytes) else {
            devices[index].statistics.ignoredIncoming += 1
            return
        }
        let runtime = runtimes[devices[index].profileIndex]
        var applied = false
        for (name, value) in desired.fields {
            guard let (rule, field) = runtime.desiredRuleByField[name] else { continue }
            if rule.constraint.problem(with: value, current: devices[index].reportedValues[field]) != nil {
                devices[index].statistics.desiredRefused += 1
                continue
            }
            devices[index].reportedValues[field] = value
            applied = true
        }
        if applied {
            devices[index].statistics.desiredApplied += 1
            // Not born yet: the reported after the birth carries the new values.
            if devices[index].connection.isBorn { actions.append(reportedAction(of: index)) }
        }
    }

    private mutating func runCommand(_ bytes: some Collection<UInt8>, on index: Int, actions: inout [SimAction]) {
        let command: CommandPayload
        do {
            command = try CommandPayload.decode(bytes)
        } catch {
            // Answer a command the device cannot read if it can at least tell which one it is.
            if let json = try? StrictJSON.parse(bytes), let id = json["id"]?.stringValue, PayloadName.isValid(id) {
                acknowledge(id, .failed, "the command could not be read: \(error)", on: index, actions: &actions)
            } else {
                devices[index].statistics.ignoredIncoming += 1
            }
            return
        }
        if let highest = devices[index].highestFenceSeen, command.fence < highest {
            devices[index].statistics.fenceRejections += 1
            acknowledge(
                command.id, .rejected,
                "fence \(command.fence) is lower than the highest fence this device has seen (\(highest)); the sender no longer holds the device's lease",
                on: index, actions: &actions)
            return
        }
        devices[index].highestFenceSeen = command.fence

        let runtime = runtimes[devices[index].profileIndex]
        guard let (spec, fields) = runtime.commandsByName[command.name] else {
            acknowledge(
                command.id, .failed,
                "unknown command \"\(command.name)\"; a \(runtime.profile.kind) understands \(runtime.commandNamesList)",
                on: index, actions: &actions)
            return
        }
        // All or nothing: work out every new value before changing any.
        var newValues: [(field: Int, value: FieldValue)] = []
        for (assignment, field) in zip(spec.assignments, fields) {
            let current = devices[index].reportedValues[field]
            switch assignment.source {
            case .constant(let value):
                newValues.append((field, value))
            case .argument(let name, let defaultValue, let constraint):
                let given = command.args[name]
                let value: FieldValue
                if let given, !given.isNull {
                    guard let scalar = given.fieldValue else {
                        acknowledge(command.id, .failed, "argument \"\(name)\" must be a single value, got \(given.kindDescription)", on: index, actions: &actions)
                        return
                    }
                    value = scalar
                } else if let defaultValue {
                    value = defaultValue
                } else {
                    acknowledge(command.id, .failed, "argument \"\(name)\" is missing; \(command.name) needs it", on: index, actions: &actions)
                    return
                }
                if let problem = constraint.problem(with: value, current: current) {
                    acknowledge(command.id, .failed, "argument \"\(name)\" \(problem)", on: index, actions: &actions)
                    return
                }
                newValues.append((field, value))
            }
        }
        for (field, value) in newValues {
            devices[index].reportedValues[field] = value
        }
        // Reported first, so that when the edge sees `ok` the new state is already on its way.
        if !newValues.isEmpty { actions.append(reportedAction(of: index)) }
        acknowledge(command.id, .ok, nil, on: index, actions: &actions)
    }

    private mutating func acknowledge(
        _ id: String, _ status: CommandAckStatus, _ detail: String?, on index: Int, actions: inout [SimAction]
    ) {
        let payload: [UInt8]
        do {
            payload = try CommandAckPayload(id: id, status: status, detail: detail).encoded()
        } catch {
            preconditionFailure("fogline-sim built a cmd/ack the contract refuses: \(error)")  // ids were checked
        }
        switch status {
        case .ok: devices[index].statistics.commandsAcked.ok += 1
        case .rejected: devices[index].statistics.commandsAcked.rejected += 1
        case .failed: devices[index].statistics.commandsAcked.failed += 1
        }
        actions.append(.publish(device: index, message: SimMessage(
            topic: devices[index].topic(.cmdAck), payload: payload, qos: .atLeastOnce, kind: .commandAck)))
    }

    private mutating func answerReplay(_ bytes: some Collection<UInt8>, from index: Int, actions: inout [SimAction]) {
        let runtime = runtimes[devices[index].profileIndex]
        guard runtime.profile.supportsReplay, let request = try? ReplayRequestPayload.decode(bytes) else {
            devices[index].statistics.ignoredIncoming += 1
            return
        }
        devices[index].statistics.replaysAnswered += 1
        let held = devices[index].replay.heldSeqs
        var resent = 0
        // Intersect first: a request for 0...2^53 costs no more than the buffer holds.
        if !held.isEmpty, request.from < held.upperBound, request.to >= held.lowerBound {
            for seq in max(request.from, held.lowerBound)...min(request.to, held.upperBound - 1) {
                guard let reading = devices[index].replay.reading(seq: seq) else { continue }
                let payload = Self.telemetryPayload(seq: seq, deviceTime: reading.deviceTime, names: runtime.metricNames, values: reading.values)
                actions.append(.publish(device: index, message: SimMessage(
                    topic: devices[index].telemetryTopic, payload: payload, qos: runtime.profile.telemetryQoS, kind: .replayedTelemetry)))
                resent += 1
            }
        }
        devices[index].statistics.replayedMessages += resent
        // Seqs asked for that the device published but that are gone from the buffer.
        if devices[index].nextSeq > 0, request.from < devices[index].nextSeq {
            let existing = min(request.to, devices[index].nextSeq - 1) - request.from + 1
            devices[index].statistics.replayMisses += Int(existing) - resent
        }
    }
}
