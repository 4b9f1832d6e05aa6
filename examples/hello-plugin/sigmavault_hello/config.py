"""The ``[hello]`` configuration section."""

from pydantic import BaseModel, Field


class HelloConfig(BaseModel):
    """The ``[hello]`` table of the config file (or ``SIGMAVAULT_HELLO__GREETING=...``)."""

    greeting: str = Field("Hello", min_length=1, max_length=40)
