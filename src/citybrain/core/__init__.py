"""citybrain.core"""
