"""The mobile-app REST API v1: one APIView per use case (parse, call one service or selector, render)."""
