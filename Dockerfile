# canopy in two stages: build with the Go toolchain, run from a minimal image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/canopy ./cmd/canopy

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/canopy /usr/local/bin/canopy
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/canopy"]
CMD ["serve"]
