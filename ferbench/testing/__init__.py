"""Helpers the tests and the benchmarks share (the service itself never imports them).

Throwaway databases and a private Redis database number (`databases`), a tiny face-folder dataset
(`face_folders`), the API as a real uvicorn process (`live_api`) and a real Celery worker (`worker`).
"""
