"""citybrain.gateways"""
