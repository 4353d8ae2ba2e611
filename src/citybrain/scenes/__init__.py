"""citybrain.scenes"""
