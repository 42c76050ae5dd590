#ifndef FOGLINE_CMOSQUITTO_SHIM_H
#define FOGLINE_CMOSQUITTO_SHIM_H
// libmosquitto's public API (Debian: libmosquitto-dev). FoglineMQTT is the only module that imports this.
#include <mosquitto.h>
#include <mqtt_protocol.h>
#endif
