# Production image: the API (`secapi serve`) and the worker share it.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 secapi
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1
USER secapi
EXPOSE 8000
CMD ["secapi", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
