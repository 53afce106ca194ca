"""Reading back a video that a test wrote or feeds in, the way OpenCV
decodes it (tests/ is on sys.path through tests/conftest.py)."""
import cv2


def read_frames(path):
    """Every frame of the video at ``path``: a list of [H, W, 3] uint8 BGR
    arrays; empty when OpenCV cannot open or decode it."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return frames
            frames.append(frame)
    finally:
        cap.release()
