"""docker build: the Dockerfile's parser and word expansion (dockerfile,
words), the build context (context) and the instructions' effect on an
image config (instructions). dockerd's /build drives them (api/build)."""
