import FoglineCore
import FoglineWire

extension Simulation {
    /// Samples the device's metrics at `time` and sends the reading, applying the
    /// `gap`, `duplicate` and `malformed` faults.
    ///
    /// Every reading uses up a `seq` and enters the replay buffer, even a withheld one:
    /// that is what makes a gap fillable by `replay`. Fault decisions come from the
    /// device's fault stream in a fixed order (gap, duplicate, malformed), one draw per
    /// enabled fault, so a plan's decisions do not depend on the readings' values.
    mutating func publishReading(of index: Int, at time: Int64, actions: inout [SimAction]) {
        let runtime = runtimes[devices[index].profileIndex]
        let values = sample(device: index, runtime: runtime, at: time)
        let seq = devices[index].nextSeq
        devices[index].nextSeq += 1
        let deviceTime = time + faults.skewMillis
        devices[index].replay.append(seq: seq, deviceTime: deviceTime, values: values)
        let payload = Self.telemetryPayload(seq: seq, deviceTime: deviceTime, names: runtime.metricNames, values: values)
        let qos = runtime.profile.telemetryQoS

        let withheld = faults.gapProbability > 0 && devices[index].faultRandom.chance(faults.gapProbability)
        if withheld {
            devices[index].statistics.gaps += 1
        } else {
            let topic = devices[index].telemetryTopic
            actions.append(.publish(device: index, message: SimMessage(topic: topic, payload: payload, qos: qos, kind: .telemetry)))
            devices[index].statistics.published += 1
            devices[index].notePublished(seq: seq)
            if faults.duplicateProbability > 0, devices[index].faultRandom.chance(faults.duplicateProbability) {
                actions.append(.publish(device: index, message: SimMessage(topic: topic, payload: payload, qos: qos, kind: .duplicateTelemetry)))
                devices[index].statistics.duplicates += 1
            }
        }
        if faults.malformedProbability > 0, devices[index].faultRandom.chance(faults.malformedProbability) {
            let message = malformedMessage(of: index, runtime: runtime, validPayload: payload, values: values, deviceTime: deviceTime)
            if case .malformed(let variant) = message.kind {
                devices[index].statistics.malformed[variant] += 1
            }
            actions.append(.publish(device: index, message: message))
        }
    }

    /// One sample of every metric, rounded as the profile says.
    private mutating func sample(device index: Int, runtime: ProfileRuntime, at time: Int64) -> [Double] {
        let elapsedSeconds = Double(time - (startedAt ?? time)) / 1_000
        let sinceLast = devices[index].lastSampleAt.map { Double(max(0, time - $0)) / 1_000 } ?? 0
        devices[index].lastSampleAt = time
        // Work on the device's signal states and stream outside the array (swapping, so
        // that nothing is copied) and put them back after.
        var signals: [SignalState] = []
        swap(&signals, &devices[index].signals)
        var random = devices[index].signalRandom
        var values: [Double] = []
        values.reserveCapacity(runtime.profile.metrics.count)
        for (metricIndex, metric) in runtime.profile.metrics.enumerated() {
            let referenced = runtime.metricReferencedField[metricIndex].map { devices[index].reportedValues[$0] }
            let raw = signals[metricIndex].sample(
                metric.generator, elapsedSeconds: elapsedSeconds, secondsSinceLastSample: sinceLast,
                referencedField: referenced, random: &random)
            values.append(SignalState.rounded(raw, decimals: metric.decimals))
        }
        swap(&signals, &devices[index].signals)
        devices[index].signalRandom = random
        return values
    }

    /// The telemetry payload bytes. Replays call this with the stored numbers, which gives
    /// back the original bytes because the encoding is deterministic.
    static func telemetryPayload(seq: UInt64, deviceTime: Int64, names: [String], values: some Collection<Double>) -> [UInt8] {
        do {
            let readings = zip(names, values).map { (name: $0.0, value: $0.1) }
            return try TelemetryPayload(seq: seq, deviceTime: deviceTime, values: readings).encoded()
        } catch {
            // Names were checked when the profile was loaded and values are rounded finite
            // numbers; seq and ts stay far below 2^53.
            preconditionFailure("fogline-sim built a telemetry payload the contract refuses: \(error)")
        }
    }

    /// The `reported` message with the device's current fields.
    func reportedAction(of index: Int) -> SimAction {
        let runtime = runtimes[devices[index].profileIndex]
        let payload: [UInt8]
        do {
            let fields = zip(runtime.reportedNames, devices[index].reportedValues).map { (name: $0.0, value: $0.1) }
            payload = try ReportedPayload(fields: fields).encoded()
        } catch {
            // Names were checked at start-up; values were checked when they were accepted.
            preconditionFailure("fogline-sim built a reported payload the contract refuses: \(error)")
        }
        return .publish(device: index, message: SimMessage(
            topic: devices[index].topic(.reported), payload: payload, qos: .atLeastOnce, kind: .reported))
    }

    // MARK: - Malformed messages

    /// Segments that break the topic segment rule but are legal in an MQTT topic name.
    static let invalidDeviceSegments = ["bad device", "dev!ce", "..", String(repeating: "x", count: SegmentName.maxLength + 1)]

    /// One bad message, its variant drawn from the device's fault stream. `seq_backwards`
    /// needs two published readings in the session; before that, `invalid_json` is sent.
    private mutating func malformedMessage(
        of index: Int, runtime: ProfileRuntime, validPayload: [UInt8], values: [Double], deviceTime: Int64
    ) -> SimMessage {
        var variant = MalformedVariant.allCases[devices[index].faultRandom.int(below: MalformedVariant.allCases.count)]
        if variant == .seqBackwards, devices[index].previousPublishedSeq == nil { variant = .invalidJSON }
        var topic = devices[index].telemetryTopic
        let payload: [UInt8]
        switch variant {
        case .invalidJSON:
            // A proper prefix of a JSON object never closes it.
            payload = Array(validPayload.prefix(validPayload.count / 2))
        case .invalidUTF8:
            payload = Array("{\"seq\":0,\"values\":{\"\(runtime.metricNames[0])".utf8) + [0xFF] + Array("\":0}}".utf8)
        case .wrongType:
            let seq = devices[index].nextSeq - 1
            payload = Array("{\"seq\":\"\(seq)\",\"ts\":\(deviceTime),\"values\":{}}".utf8)
        case .oversized:
            // Valid JSON, so that the size alone is what is wrong.
            let padding = [UInt8](repeating: UInt8(ascii: "x"), count: JSONLimits.defaultMaxBytes)
            payload = validPayload.dropLast() + Array(",\"pad\":\"".utf8) + padding + Array("\"}".utf8)
        case .seqBackwards:
            let seq = devices[index].previousPublishedSeq ?? 0
            payload = Self.telemetryPayload(seq: seq, deviceTime: deviceTime, names: runtime.metricNames, values: values)
        case .invalidTopic:
            let segment = Self.invalidDeviceSegments[devices[index].faultRandom.int(below: Self.invalidDeviceSegments.count)]
            topic = FoglineTopic.device(site: site, device: segment, .telemetry).string  // building does not validate
            payload = validPayload
        }
        return SimMessage(topic: topic, payload: payload, qos: runtime.profile.telemetryQoS, kind: .malformed(variant))
    }
}
